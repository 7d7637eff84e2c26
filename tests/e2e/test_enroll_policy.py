"""Per-label enrollment policy (allow, subject_pattern, san_pattern,
cn/san_must_match, max_sans): who may enroll on a label and for which
names, refused with 403 and a reason, logged with identity and label."""

import pytest

from conftest import _serve, serving
from e2e_util import (ESTD, EST, PASSWORD, USER, base_env, curl, describe, make_csr, ok,
                      run, set_ini, wait_for)

P10 = "application/pkcs10"


@pytest.fixture(scope="module")
def psrv(tmp_path_factory):
    root = tmp_path_factory.mktemp("policy")
    from e2e_util import Estd
    srv = Estd(root).init()
    srv.user_add("alice", "alice-pw")
    srv.user_add("bob", "bob-pw")
    conf = srv.conf
    set_ini(conf, "label devices", "profile", "default")
    set_ini(conf, "label devices", "allow", "user:alice, cert-subject:CN=*.devices.example")
    set_ini(conf, "label devices", "subject_pattern", "CN=*.devices.example")
    set_ini(conf, "label devices", "san_pattern", "DNS:*.devices.example, IP:10.0.0.0/8")
    set_ini(conf, "label devices", "max_sans", "2")
    set_ini(conf, "label self", "profile", "default")
    set_ini(conf, "label self", "cn_must_match", "user")
    set_ini(conf, "label self", "san_must_match", "user")
    yield from serving(srv)


def _post(srv, work, label, user, subj, addext=None, name="req"):
    csr, _ = make_csr(work, name, subj=subj, der=True, addext=addext)
    b64 = work / f"{name}.b64"
    ok(["openssl", "base64", "-in", csr, "-out", b64])
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca, user=user,
                data_file=b64, ctype=P10)


def test_allowed_user_and_names_get_200(psrv, work):
    r = _post(psrv, work, "devices", "alice:alice-pw", "/CN=a.devices.example",
              "subjectAltName=DNS:a.devices.example,IP:10.1.2.3")
    assert r.status == 200, r


def test_names_compare_without_case(psrv, work):
    # (trailing dots: unit/test_policy; issuance refuses them in a SAN on its own)
    r = _post(psrv, work, "devices", "alice:alice-pw", "/CN=B.Devices.Example",
              "subjectAltName=DNS:B.DEVICES.example")
    assert r.status == 200, r


def test_user_not_in_allow_gets_403_and_a_log_line(psrv, work):
    r = _post(psrv, work, "devices", "bob:bob-pw", "/CN=b.devices.example")
    assert r.status == 403, r
    assert b"may not enroll" in r.body, r
    assert wait_for(lambda: "identity=user:bob label=devices" in psrv.log_text()), \
        psrv.log_tail()


@pytest.mark.parametrize("subj,addext,reason", [
    ("/CN=a.b.devices.example", None, b"subject_pattern"),   # '*' is one label
    ("/CN=devices.example", None, b"subject_pattern"),        # '*' is not empty
    ("/CN=a.devices.example/O=Evil", None, b"subject_pattern"),  # no extra attributes
    ("/CN=a.devices.example", "subjectAltName=DNS:evil.example", b"san_pattern"),
    ("/CN=a.devices.example", "subjectAltName=IP:11.0.0.1", b"san_pattern"),
    ("/CN=a.devices.example", "subjectAltName=email:a@devices.example", b"san_pattern"),
    ("/CN=a.devices.example",
     "subjectAltName=DNS:a.devices.example,DNS:b.devices.example,DNS:c.devices.example",
     b"at most 2"),
], ids=["two-labels", "empty-label", "extra-rdn", "dns", "ip-outside-cidr", "email",
        "max-sans"])
def test_names_outside_the_policy_get_403_with_reason(psrv, work, subj, addext, reason):
    r = _post(psrv, work, "devices", "alice:alice-pw", subj, addext)
    assert r.status == 403, r
    assert reason in r.body, r


def test_cn_and_san_must_match_the_user(psrv, work):
    r = _post(psrv, work, "self", "alice:alice-pw", "/CN=alice", "subjectAltName=DNS:alice")
    assert r.status == 200, r
    r = _post(psrv, work, "self", "alice:alice-pw", "/CN=bob", "subjectAltName=DNS:alice")
    assert r.status == 403 and b"CN must be the user name" in r.body, r
    r = _post(psrv, work, "self", "alice:alice-pw", "/CN=alice", "subjectAltName=DNS:bob")
    assert r.status == 403 and b"is not the user name" in r.body, r


def test_policy_applies_to_est_and_reenroll_with_the_cert_passes(psrv, work):
    env = base_env(EST_PASSWORD="alice-pw")
    out = work / "o"
    cp = run([EST, "enroll", "--server", psrv.url + "/devices", "--cacert", psrv.ca,
              "--user", "alice", "--subject", "CN=r.devices.example", "--san",
              "DNS:r.devices.example", "--out", out], env=env)
    assert cp.returncode == 0, describe(cp)
    # renewal by the holder of the certificate: allow is not consulted (RFC 7030 4.2.2)
    cp = run([EST, "reenroll", "--server", psrv.url + "/devices", "--cacert", psrv.ca,
              "--cert", out / "cert.pem", "--key", out / "key.pem", "--out", work / "o2"])
    assert cp.returncode == 0, describe(cp)
    # the same certificate may enroll new names: allow has cert-subject:CN=*.devices.example
    cp = run([EST, "enroll", "--server", psrv.url + "/devices", "--cacert", psrv.ca,
              "--cert", out / "cert.pem", "--key", out / "key.pem",
              "--subject", "CN=s.devices.example", "--no-csrattrs", "--out", work / "o3"])
    assert cp.returncode == 0, describe(cp)
    cp = run([EST, "enroll", "--server", psrv.url + "/devices", "--cacert", psrv.ca,
              "--user", "bob", "--subject", "CN=t.devices.example", "--out", work / "o4"],
             env=base_env(EST_PASSWORD="bob-pw"))
    assert cp.returncode != 0 and "403" in cp.stderr, describe(cp)


@pytest.mark.parametrize("key,value", [
    ("subject_pattern", "CN=a*b.example"),
    ("san_pattern", "DNS:*.*.example"),
    ("san_pattern", "IP:10.0.0.1/8"),
    ("san_pattern", "FTP:x"),
    ("allow", "group:admins"),
    ("san_must_match", "cn"),
    ("max_sans", "-1"),
], ids=["star-inside", "two-stars", "host-bits", "san-type", "allow-kind", "must-match",
        "max-sans"])
def test_malformed_policy_is_a_config_error_with_line(tmp_path, key, value):
    from e2e_util import Estd
    srv = Estd(tmp_path).init()
    set_ini(srv.conf, "label", key, value)
    cp = run([ESTD, "certs", "list", "-c", srv.conf])
    assert cp.returncode != 0 and key in cp.stderr and "estd.conf:" in cp.stderr, describe(cp)


def test_fullcmc_obeys_the_label_policy(psrv, work):
    def fullcmc(user, pw, subject, out):
        return run([EST, "fullcmc", "--server", psrv.url + "/devices", "--cacert", psrv.ca,
                    "--user", user, "--subject", subject, "--out", work / out],
                   env=base_env(EST_PASSWORD=pw))
    cp = fullcmc("alice", "alice-pw", "/CN=c.devices.example", "c1")
    assert cp.returncode == 0, describe(cp)
    cp = fullcmc("bob", "bob-pw", "/CN=c2.devices.example", "c2")
    assert cp.returncode != 0 and "may not enroll" in (cp.stderr + cp.stdout), describe(cp)
    cp = fullcmc("alice", "alice-pw", "/CN=c.elsewhere.example", "c3")
    assert cp.returncode != 0 and "subject_pattern" in (cp.stderr + cp.stdout), describe(cp)
