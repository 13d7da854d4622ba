from helpdesk.roles import can_work_tickets, is_staff_member


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_agent": False, "is_staff_member": False}
    return {"is_agent": can_work_tickets(user), "is_staff_member": is_staff_member(user)}
