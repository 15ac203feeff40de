"""The API's shared machinery: authentication, the base viewsets, errors, pagination, throttling and schema."""
