"""Shared by the backend = proxy tests: the RA's own certificate, enrolled
from the CA estd on its `ra` label (a profile with clientAuth + id-kp-cmcRA)."""

from e2e_util import EST, PASSWORD, USER, base_env, ok, set_ini


def ra_profile(ca):
    """Gives ca a label `ra` whose certificates carry clientAuth + id-kp-cmcRA."""
    set_ini(ca.conf, "profile ra", "extended_key_usage", "clientAuth, cmcRA")
    set_ini(ca.conf, "label ra", "profile", "ra")


def ra_cert(ca, out, cn):
    """Enrolls an RA certificate CN=cn from ca's `ra` label into out (cert.pem,
    key.pem); returns out."""
    ok([EST, "enroll", "--server", f"{ca.url}/ra", "--cacert", ca.ca, "--user", USER,
        "--subject", f"CN={cn}", "--out", out], env=base_env(EST_PASSWORD=PASSWORD))
    return out
