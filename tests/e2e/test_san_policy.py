"""otherName and registeredID subjectAltNames ([profile] allow_othername,
allow_registered_id): refused by default with a 400 whose reason names the
otherName type and the key that would allow it; issued (and present in the
certificate) when the profile allows the type; an allowed type still needs
a bounded string value. The profile is the one of the label."""

import pytest

from conftest import serving
from e2e_util import (EST, ESTD, PASSWORD, USER, Estd, base_env, curl, describe, make_csr, ok,
                      p7_to_pem, run, set_ini)

P10 = "application/pkcs10"
UPN = "1.3.6.1.4.1.311.20.2.3"
SMTP_UTF8 = "1.3.6.1.5.5.7.8.9"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Estd(tmp_path_factory.mktemp("sanpol")).init()
    set_ini(s.conf, "profile upn", "allow_othername", UPN)
    set_ini(s.conf, "profile rid", "allow_registered_id", "yes")
    set_ini(s.conf, "label upn", "profile", "upn")
    set_ini(s.conf, "label rid", "profile", "rid")
    yield from serving(s)


def post(srv, work, label, san, name="req"):
    csr, _ = make_csr(work, name, subj=f"/CN={name}", der=True,
                      addext=f"subjectAltName={san}")
    b64 = work / f"{name}.b64"
    ok(["openssl", "base64", "-in", csr, "-out", b64])
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca,
                user=f"{USER}:{PASSWORD}", data_file=b64, ctype=P10)


def san_text(work, r, name):
    (work / f"{name}.p7").write_bytes(r.body)
    pem = p7_to_pem(work / f"{name}.p7", work / f"{name}.pem")
    cp = run(["openssl", "x509", "-in", pem, "-noout", "-text"])
    assert cp.returncode == 0, cp
    lines = cp.stdout.splitlines()
    i = next(i for i, l in enumerate(lines) if "Subject Alternative Name" in l)
    return lines[i + 1].strip()


def test_upn_othername_refused_by_default_naming_the_type_and_key(srv, work):
    r = post(srv, work, None, f"otherName:{UPN};UTF8:user@example.org")
    assert r.status == 400, r
    assert UPN.encode() in r.body and b"allow_othername" in r.body, r


def test_upn_othername_issued_when_the_profile_allows_it(srv, work):
    r = post(srv, work, "upn", f"otherName:{UPN};UTF8:user@example.org,DNS:h.example",
             name="upn")
    assert r.status == 200, r
    assert san_text(work, r, "upn") == "othername: UPN::user@example.org, DNS:h.example"


@pytest.mark.parametrize("san,why", [
    (f"otherName:{SMTP_UTF8};UTF8:user@example.org", SMTP_UTF8.encode()),  # another type
    (f"otherName:{UPN};UTF8:" + "u" * 1100 + "@example.org", b"longer than 1024 DER bytes"),
    (f"otherName:{UPN};INTEGER:5", b"UTF8String"),
    (f"otherName:{UPN};OCTETSTRING:user@example.org", b"UTF8String"),
    ("RID:1.2.3.4", b"allow_registered_id"),
], ids=["other-type", "oversize", "integer", "octet-string", "rid"])
def test_allowed_profile_still_refuses(srv, work, san, why):
    r = post(srv, work, "upn", san)
    assert r.status == 400, r
    assert why in r.body, r


def test_registered_id_refused_by_default_issued_when_allowed(srv, work):
    r = post(srv, work, None, "RID:1.2.3.4")
    assert r.status == 400 and b"allow_registered_id" in r.body, r
    r = post(srv, work, "rid", "RID:1.2.3.4", name="rid")
    assert r.status == 200, r
    assert san_text(work, r, "rid") == "Registered ID:1.2.3.4"
    # the rid profile allows no otherName
    r = post(srv, work, "rid", f"otherName:{UPN};UTF8:user@example.org")
    assert r.status == 400 and UPN.encode() in r.body, r


@pytest.mark.parametrize("value,why", [
    ("upn", "'upn' is not a dotted OID"),
    (f"{UPN}, {UPN}", "listed twice"),
])
def test_bad_allow_othername_is_a_config_error_with_line(tmp_path, value, why):
    s = Estd(tmp_path).init()
    set_ini(s.conf, "profile default", "allow_othername", value)
    cp = run([ESTD, "certs", "list", "-c", s.conf])
    assert cp.returncode != 0 and why in cp.stderr and "estd.conf:" in cp.stderr, cp


@pytest.mark.parametrize("crmf", [False, True], ids=["pkcs10", "crmf"])
def test_fullcmc_requests_get_the_same_check(srv, work, crmf):
    csr, key = make_csr(work, "cmc", subj="/CN=cmc",
                        addext=f"subjectAltName=otherName:{UPN};UTF8:user@example.org")

    def fullcmc(label, out):
        return run([EST, "fullcmc", "--server", srv.url + (f"/{label}" if label else ""),
                    "--cacert", srv.ca, "--user", USER, "--csr", csr, "--key", key,
                    "--out", work / out] + (["--crmf"] if crmf else []),
                   env=base_env(EST_PASSWORD=PASSWORD))
    cp = fullcmc(None, "refused")
    assert cp.returncode != 0 and UPN in cp.stdout + cp.stderr, describe(cp)
    assert "allow_othername" in cp.stdout + cp.stderr, describe(cp)
    cp = fullcmc("upn", "issued")
    assert cp.returncode == 0, describe(cp)
    text = ok(["openssl", "x509", "-in", work / "issued" / "cert.pem", "-noout", "-text"]).stdout
    assert "othername: UPN::user@example.org" in text, text
