from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def home(request):
    return HttpResponse("ok")


@login_required
def shipment_detail(request, reference):
    return HttpResponse("ok")


@login_required
def shipment_transition(request, reference, name):
    return HttpResponse("ok")
