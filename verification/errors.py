from verify_site.errors import Conflict, NotFound


class CaseAlreadyOpen(Conflict):
    code = "case_already_open"
    detail = "This freelancer already has an open verification case."


class IllegalTransition(Conflict):
    code = "illegal_transition"


class CaseNotFound(NotFound):
    code = "case_not_found"
    detail = "No verification case has this id."
