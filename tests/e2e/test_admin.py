"""Operator changes that take effect on SIGHUP: new labels, added and
deleted users."""

import signal

from e2e_util import cert_serial, curl, est_enroll, make_csr, ok, verify, wait_for


def _probe(srv, work, user, label=None):
    """Status of an authenticated POST with a non-CSR body: 401 means the
    credentials were refused, 400 that they were accepted (and nothing issued)."""
    bad = work / "probe.b64"
    bad.write_bytes(b"QUJD\n")
    return curl(srv.est_url("simpleenroll", label), work, cafile=srv.ca, user=user,
                data_file=bad, ctype="application/pkcs10").status


def test_label_added_and_reloaded_with_sighup_enrolls(fresh_server, work):
    srv = fresh_server
    r = curl(srv.est_url("cacerts", "routers"), work, cafile=srv.ca)
    assert r.status == 404, r
    with open(srv.conf, "a") as f:
        f.write("\n[label routers]\nprofile = default\n")
    srv.send(signal.SIGHUP)
    status = wait_for(lambda: curl(srv.est_url("cacerts", "routers"), work,
                                   cafile=srv.ca).status == 200)
    assert status, "label routers not served 30 s after SIGHUP\n" + srv.log_tail()
    assert srv.running()

    out = work / "router"
    est_enroll(srv, out, subject="/CN=router-1", san=["DNS:router-1.example"],
               label="routers")
    verify(srv.ca, out / "cert.pem")
    rec = srv.cert_record(cert_serial(out / "cert.pem"))
    assert rec is not None and rec["label"] == "routers", rec

    # The default label is still there next to the new one.
    out2 = work / "plain"
    est_enroll(srv, out2, subject="/CN=plain-1")
    rec2 = srv.cert_record(cert_serial(out2 / "cert.pem"))
    assert rec2 is not None and rec2["label"] != "routers", rec2


def test_user_added_after_start_works_after_sighup(fresh_server, work):
    srv = fresh_server
    srv.user_add("late", "late-password")
    srv.send(signal.SIGHUP)
    assert wait_for(lambda: _probe(srv, work, "late:late-password") == 400), \
        "new user still refused 30 s after SIGHUP\n" + srv.log_tail()
    out = work / "late"
    est_enroll(srv, out, subject="/CN=late-device", user="late", password="late-password",
               how="file")
    verify(srv.ca, out / "cert.pem")
    rec = srv.cert_record(cert_serial(out / "cert.pem"))
    assert rec is not None and "late" in str(rec["requester"]), rec


def test_deleted_user_gets_401_after_sighup(fresh_server, work):
    srv = fresh_server
    srv.user_add("gone", "gone-password")
    srv.send(signal.SIGHUP)
    assert wait_for(lambda: _probe(srv, work, "gone:gone-password") == 400), \
        srv.log_tail()
    srv.user_del("gone")
    srv.send(signal.SIGHUP)
    assert wait_for(lambda: _probe(srv, work, "gone:gone-password") == 401), \
        "deleted user still accepted 30 s after SIGHUP\n" + srv.log_tail()
    # Other users are untouched.
    assert _probe(srv, work, "estuser:estpwd") == 400
    csr, _ = make_csr(work, "after-del", der=True)
    ok(["openssl", "base64", "-in", csr, "-out", work / "c.b64"])
    r = curl(srv.est_url("simpleenroll"), work, cafile=srv.ca, user="gone:gone-password",
             data_file=work / "c.b64", ctype="application/pkcs10")
    assert r.status == 401, r


def test_bad_config_on_sighup_keeps_serving(fresh_server, work):
    """A typo in estd.conf must not take a running server down on reload."""
    srv = fresh_server
    with open(srv.conf, "a") as f:
        f.write("\n[server]\nno_such_key = 1\n")
    off = srv.log.stat().st_size
    srv.send(signal.SIGHUP)
    # the reload has been tried (and refused) once its log line is out
    assert wait_for(lambda: "reload failed" in srv.log_text(off) or not srv.running()), \
        "no 'reload failed' line after SIGHUP\n" + srv.log_tail()
    assert srv.running(), "estd exited on a bad reload\n" + srv.log_tail()
    r = curl(srv.est_url("cacerts"), work, cafile=srv.ca)
    assert r.status == 200, r
    assert _probe(srv, work, "estuser:estpwd") == 400
    # Put the file right again so teardown's clean exit is about SIGTERM only.
    text = srv.conf.read_text().replace("\n[server]\nno_such_key = 1\n", "\n")
    srv.conf.write_text(text)
