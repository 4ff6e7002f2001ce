/* Secure capture: the agent's API (create a session, read its state and tokens) and the
 * customer's page (a small HTML form, no JavaScript, no third-party assets, one stylesheet of
 * its own). The page's answers are HTML for every outcome a browser meets (the form, its
 * errors, the confirmation, 404, 410, 503); their status comes from the error table. Nothing
 * the customer typed is ever written back into a page: an invalid field is named, never shown.
 * The page routes carry CU_ROUTE_PAGE (CSP, X-Frame-Options, Referrer-Policy: respond.c). */
#include "http/http.h"

#include "service/capture.h"

#include <string.h>

enum cu_err
cu_h_capture_create(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    struct cu_problems p = {0};
    json_t *out = NULL;
    enum cu_err rc = cu_capture_create(req->app->svc, &a, req->json, &p, &out);
    CU_GUARD(cu_req_problems(req, rc, &p));
    cu_resp_json(req, 0, out);
    return CU_OK;
}

enum cu_err
cu_h_capture_get(struct cu_req *req)
{
    struct cu_actor a;
    cu_req_actor(req, &a);
    json_t *out = NULL;
    CU_GUARD(cu_capture_get(req->app->svc, &a, cu_req_param(req, "id"), &out));
    cu_resp_json(req, 0, out);
    return CU_OK;
}

/* ---- the page ---- */

static void
html_escaped(struct cu_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            cu_buf_append_str(b, "&amp;");
            break;
        case '<':
            cu_buf_append_str(b, "&lt;");
            break;
        case '>':
            cu_buf_append_str(b, "&gt;");
            break;
        case '"':
            cu_buf_append_str(b, "&quot;");
            break;
        case '\'':
            cu_buf_append_str(b, "&#39;");
            break;
        default:
            cu_buf_append(b, s, 1);
        }
    }
}

static void
page_start(struct cu_buf *b, const char *title)
{
    cu_buf_append_str(b,
                      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>");
    html_escaped(b, title);
    cu_buf_append_str(b, "</title>\n<link rel=\"stylesheet\" href=\"/capture.css\">\n</head>\n"
                         "<body>\n<main>\n");
}

static void
page_end(struct cu_buf *b)
{
    cu_buf_append_str(b, "</main>\n</body>\n</html>\n");
}

static void
send_page(struct cu_req *req, int status, struct cu_buf *b)
{
    cu_resp_text(req, status, "text/html; charset=utf-8", (const char *)b->data, b->len);
    cu_buf_cleanup(b);
}

/* A page with a heading and one paragraph, for the outcomes without a form. */
static void
message_page(struct cu_req *req, int status, const char *title, const char *text)
{
    struct cu_buf b;
    cu_buf_init(&b);
    page_start(&b, title);
    cu_buf_append_str(&b, "<h1>");
    html_escaped(&b, title);
    cu_buf_append_str(&b, "</h1>\n<p>");
    html_escaped(&b, text);
    cu_buf_append_str(&b, "</p>\n");
    page_end(&b);
    send_page(req, status, &b);
}

/* The failure's page; the status is the error table's. */
static enum cu_err
failure_page(struct cu_req *req, enum cu_err rc)
{
    int status = cu_err_status(rc);
    if (rc == CU_ERR_NOT_FOUND) {
        message_page(req, status, "This link is not valid",
                     "Check that you opened the whole link you were sent, or ask the person you "
                     "are speaking with for a new one.");
    } else if (rc == CU_ERR_GONE) {
        message_page(req, status, "This link has expired or was already used",
                     "For your security each link works once and for a short time. Ask the "
                     "person you are speaking with for a new link.");
    } else {
        message_page(req, status, "This page is not available right now",
                     "Nothing was saved. Please try again in a moment.");
    }
    return CU_OK;
}

/* "card_number" -> "Card number" */
static void
label_text(struct cu_buf *b, const char *name)
{
    for (const char *p = name; *p; p++) {
        char c = *p == '_' ? ' ' : *p;
        if (p == name && c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        cu_buf_append(b, &c, 1);
    }
}

/* Input attributes a field type asks for (assistive technology and on-screen keyboards). */
static const char *
input_hints(const char *type)
{
    if (strcmp(type, "card_number") == 0) {
        return " inputmode=\"numeric\" autocomplete=\"cc-number\"";
    }
    if (strcmp(type, "ssn") == 0) {
        return " inputmode=\"numeric\" autocomplete=\"off\"";
    }
    if (strcmp(type, "phone") == 0) {
        return " type=\"tel\" autocomplete=\"tel\"";
    }
    if (strcmp(type, "email") == 0) {
        return " type=\"email\" autocomplete=\"email\"";
    }
    if (strcmp(type, "date") == 0) {
        return " placeholder=\"YYYY-MM-DD\" autocomplete=\"off\"";
    }
    return " autocomplete=\"off\"";
}

/* The problem detail for field (NULL when none), from the service's problems. */
static const char *
field_error(json_t *errors, const char *field, struct cu_arena *arena)
{
    const char *want = cu_arena_printf(arena, "/fields/%s", field);
    for (size_t i = 0; i < json_array_size(errors); i++) {
        json_t *e = json_array_get(errors, i);
        const char *p = json_string_value(json_object_get(e, "pointer"));
        if (p != NULL && strcmp(p, want) == 0) {
            return json_string_value(json_object_get(e, "detail"));
        }
    }
    return NULL;
}

/* The form; errors (may be NULL) are the service's problems: pointers "/fields/<name>" or "/". */
static void
form_page(struct cu_req *req, int status, const struct cu_capture_page *page, json_t *errors)
{
    struct cu_buf b;
    cu_buf_init(&b);
    page_start(&b, errors != NULL ? "Error: Secure entry" : "Secure entry");
    cu_buf_append_str(&b, "<h1>Secure entry</h1>\n<p>Type your details here. The person you are "
                          "speaking with will not see or hear them.</p>\n");
    if (errors != NULL) {
        /* the summary is announced when the page loads (role=alert) and links to each field */
        cu_buf_append_str(&b, "<div class=\"error-summary\" role=\"alert\" "
                              "aria-labelledby=\"error-summary-title\">\n"
                              "<h2 id=\"error-summary-title\">There is a problem</h2>\n<ul>\n");
        for (size_t i = 0; i < json_array_size(errors); i++) {
            json_t *e = json_array_get(errors, i);
            const char *p = json_string_value(json_object_get(e, "pointer"));
            const char *d = json_string_value(json_object_get(e, "detail"));
            const char *f = p != NULL && strncmp(p, "/fields/", 8) == 0 ? p + 8 : NULL;
            cu_buf_append_str(&b, "<li>");
            if (f != NULL) {
                cu_buf_append_str(&b, "<a href=\"#f-");
                html_escaped(&b, f);
                cu_buf_append_str(&b, "\">");
                label_text(&b, f);
                cu_buf_append_str(&b, ": ");
                html_escaped(&b, d ? d : "invalid");
                cu_buf_append_str(&b, "</a>");
            } else {
                html_escaped(&b, d ? d : "The form is not valid");
            }
            cu_buf_append_str(&b, "</li>\n");
        }
        cu_buf_append_str(&b, "</ul>\n</div>\n");
    }
    /* no action: the form posts to this page's own URL */
    cu_buf_append_str(&b, "<form method=\"post\" novalidate>\n");
    for (size_t i = 0; i < page->nfields; i++) {
        const char *f = page->fields[i];
        const char *err = field_error(errors, f, req->arena);
        cu_buf_printf(&b, "<div class=\"field%s\">\n<label for=\"f-%s\">", err ? " invalid" : "",
                      f);
        label_text(&b, f);
        cu_buf_append_str(&b, "</label>\n");
        if (err != NULL) {
            cu_buf_printf(&b,
                          "<p class=\"error\" id=\"e-%s\"><span class=\"visually-hidden\">"
                          "Error:</span> ",
                          f);
            html_escaped(&b, err);
            cu_buf_append_str(&b, "</p>\n");
        }
        /* the value is never written back: a corrected field starts empty */
        cu_buf_printf(&b,
                      "<input id=\"f-%s\" name=\"%s\"%s spellcheck=\"false\" required "
                      "aria-required=\"true\"",
                      f, f, input_hints(page->types[i]));
        if (err != NULL) {
            cu_buf_printf(&b, " aria-invalid=\"true\" aria-describedby=\"e-%s\"", f);
        }
        cu_buf_append_str(&b, ">\n</div>\n");
    }
    cu_buf_append_str(&b, "<button type=\"submit\">Submit securely</button>\n</form>\n");
    page_end(&b);
    send_page(req, status, &b);
}

enum cu_err
cu_h_capture_page(struct cu_req *req)
{
    if (!req->app->ready) {
        return failure_page(req, cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "not ready"));
    }
    struct cu_capture_page page;
    enum cu_err rc = cu_capture_open(req->app->svc, cu_req_param(req, "secret"), req->request_id,
                                     req->arena, &page);
    if (rc != CU_OK) {
        return failure_page(req, rc);
    }
    form_page(req, 0, &page, NULL);
    return CU_OK;
}

enum cu_err
cu_h_capture_submit(struct cu_req *req)
{
    if (!req->app->ready) {
        return failure_page(req, cu_err_set(CU_ERR_UNAVAILABLE, __FILE__, __LINE__, "not ready"));
    }
    size_t n = req->form->n;
    struct cu_capture_input *in = cu_arena_alloc(req->arena, (n + 1) * sizeof(*in));
    for (size_t i = 0; i < n; i++) {
        in[i].name = req->form->fields[i].name;
        in[i].value = req->form->fields[i].value;
        in[i].len = req->form->fields[i].len;
    }
    struct cu_capture_page page;
    struct cu_problems p = {0};
    enum cu_err rc = cu_capture_submit(req->app->svc, cu_req_param(req, "secret"), req->request_id,
                                       in, n, req->arena, &page, &p);
    if (rc == CU_ERR_INVALID) {
        form_page(req, cu_err_status(rc), &page, p.errors);
        json_decref(p.errors);
        return CU_OK;
    }
    json_decref(p.errors);
    if (rc != CU_OK) {
        return failure_page(req, rc);
    }
    message_page(req, 0, "Thank you",
                 "Your details were received securely. You can close this page and carry on "
                 "with your call.");
    return CU_OK;
}

static const char capture_css[] =
    "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#0b0c0c;"
    "background:#f3f2f1}\n"
    "main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff}\n"
    "h1{font-size:1.6rem;margin-top:0}\n"
    "label{display:block;font-weight:700;margin-bottom:.25rem}\n"
    ".field{margin-bottom:1.25rem}\n"
    "input{font-size:1.2rem;padding:.4rem;width:100%;box-sizing:border-box;border:2px solid "
    "#0b0c0c}\n"
    "input:focus,button:focus,a:focus{outline:3px solid #fd0;outline-offset:0}\n"
    ".invalid input{border-color:#d4351c}\n"
    ".invalid{border-left:5px solid #d4351c;padding-left:.75rem}\n"
    ".error{color:#d4351c;font-weight:700;margin:0 0 .25rem}\n"
    ".error-summary{border:5px solid #d4351c;padding:1rem;margin-bottom:1.5rem}\n"
    ".error-summary h2{margin-top:0;font-size:1.2rem}\n"
    ".error-summary a{color:#d4351c;font-weight:700}\n"
    "button{font-size:1.1rem;padding:.6rem 1.2rem;background:#00703c;color:#fff;border:0;"
    "cursor:pointer}\n"
    ".visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}"
    "\n";

enum cu_err
cu_h_capture_css(struct cu_req *req)
{
    cu_resp_text(req, 0, "text/css; charset=utf-8", capture_css, sizeof(capture_css) - 1);
    return CU_OK;
}
