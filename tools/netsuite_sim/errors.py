"""NetSuite's error shapes.

REST (record API and SuiteQL) errors are RFC 9457-style problem documents
with NetSuite's "o:errorDetails" extension, served as
``application/vnd.oracle.resource+json; type=error``.  RESTlet errors are the
older SuiteScript shape ``{"error": {"code": ..., "message": ...}}`` served
as application/json.  The simulator raises NSError anywhere and the HTTP
layer renders whichever shape the endpoint uses."""

REST_ERROR_CT = "application/vnd.oracle.resource+json; type=error"

_RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110.html#section-"
# status -> (type URI, title), as NetSuite sends them.
STATUS_INFO = {
    400: (_RFC9110 + "15.5.1", "Bad Request"),
    401: (_RFC9110 + "15.5.2", "Unauthorized"),
    403: (_RFC9110 + "15.5.4", "Forbidden"),
    404: (_RFC9110 + "15.5.5", "Not Found"),
    405: (_RFC9110 + "15.5.6", "Method Not Allowed"),
    413: (_RFC9110 + "15.5.14", "Content Too Large"),
    415: (_RFC9110 + "15.5.16", "Unsupported Media Type"),
    429: ("https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
          "Too Many Requests"),
    500: (_RFC9110 + "15.6.1", "Internal Server Error"),
    502: (_RFC9110 + "15.6.3", "Bad Gateway"),
    503: (_RFC9110 + "15.6.4", "Service Unavailable"),
}

# NetSuite's own wording for the errors clients meet most.
LOGIN_DETAIL = ("Invalid login attempt. For more details, see the Login "
                "Audit Trail in the NetSuite UI at Setup > Users/Roles > "
                "User Management > View Login Audit Trail.")
NONEXISTENT_DETAIL = ("The record instance does not exist. Provide a valid "
                      "record instance ID.")
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."
RESTLET_LIMIT_MESSAGE = ("Concurrent request limit exceeded. "
                         "Request blocked.")


class NSError(Exception):
    """An error answer.  ``path`` becomes o:errorPath (the JSON path of the
    offending body property) and ``query_param`` o:errorQueryParam."""

    def __init__(self, status, code, detail, path=None, query_param=None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.query_param = query_param

    def rest_body(self):
        type_uri, title = STATUS_INFO.get(self.status,
                                          (_RFC9110 + "15", "Error"))
        detail = {"detail": self.detail, "o:errorCode": self.code}
        if self.path:
            detail["o:errorPath"] = self.path
        if self.query_param:
            detail["o:errorQueryParam"] = self.query_param
        return {"type": type_uri, "title": title, "status": self.status,
                "o:errorDetails": [detail]}

    def restlet_body(self):
        return {"error": {"code": self.code, "message": self.detail}}


def not_found(what="record"):
    return NSError(404, "NONEXISTENT_ID", NONEXISTENT_DETAIL)


def user_error(detail, path=None):
    return NSError(400, "USER_ERROR",
                   "Error while accessing a resource. " + detail, path=path)


def invalid_content(detail, path=None):
    return NSError(400, "INVALID_CONTENT",
                   "Invalid content in the request body. " + detail,
                   path=path)


def invalid_parameter(detail, param=None):
    return NSError(400, "INVALID_PARAMETER", detail, query_param=param)


def login_failed():
    return NSError(401, "INVALID_LOGIN_ATTEMPT", LOGIN_DETAIL)
