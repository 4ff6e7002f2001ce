/* TLS on the shared server, probed with the openssl client: 1.2 and 1.3 with ECDHE and AEAD
 * ciphers only; 1.1 and 1.0 refused; plain HTTP on the TLS port gets nothing useful (security). */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs `openssl s_client` with args; returns its output (heap). */
static char *
s_client(const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "echo | timeout 10 openssl s_client -connect 127.0.0.1:%d -servername localhost "
             "-CAfile %s %s 2>&1",
             t_shared()->port, t_env("CUSTOS_TEST_CA"), args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 65536, used = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + used, 1, cap - used - 1, p)) > 0) {
        used += n;
    }
    out[used] = '\0';
    pclose(p);
    return out;
}

Test(tls, tls13_is_accepted_with_an_aead_cipher)
{
    char *out = s_client("-tls1_3");
    cr_assert_not_null(strstr(out, "New, TLSv1.3, Cipher is TLS_"), "%s", out);
    cr_assert(strstr(out, "GCM") != NULL || strstr(out, "CHACHA20") != NULL, "%s", out);
    cr_assert_not_null(strstr(out, "Verify return code: 0 (ok)"), "%s", out);
    free(out);
}

Test(tls, tls12_is_accepted_with_ecdhe_and_gcm_or_chacha)
{
    char *out = s_client("-tls1_2");
    cr_assert_not_null(strstr(out, "New, TLSv1.2, Cipher is ECDHE-"), "%s", out);
    cr_assert(strstr(out, "GCM") != NULL || strstr(out, "CHACHA20") != NULL, "%s", out);
    free(out);
}

Test(tls, tls11_and_tls10_are_refused)
{
    char *out = s_client("-tls1_1 -cipher DEFAULT@SECLEVEL=0");
    cr_assert_not_null(strstr(out, "Cipher is (NONE)"), "%s", out);
    cr_assert_not_null(strstr(out, "no peer certificate available"), "%s", out);
    free(out);
    out = s_client("-tls1 -cipher DEFAULT@SECLEVEL=0");
    cr_assert_not_null(strstr(out, "Cipher is (NONE)"), "%s", out);
    free(out);
}

Test(tls, cbc_and_non_forward_secret_ciphers_are_refused_on_tls12)
{
    char *out = s_client("-tls1_2 -cipher AES128-SHA:AES256-SHA256:AES128-GCM-SHA256");
    cr_assert_not_null(strstr(out, "Cipher is (NONE)"), "%s", out);
    free(out);
}

Test(tls, plain_http_on_the_tls_port_is_not_served)
{
    int closed = 0;
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char *out = t_raw(t_shared()->port, NULL, req, sizeof(req) - 1, 2000, &closed);
    cr_assert_not_null(out);
    cr_assert_null(strstr(out, "200 OK"));
    cr_assert_null(strstr(out, "\"status\""));
    free(out);
}
