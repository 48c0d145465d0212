"""What surrounds the Mac: puppet and facter with cltbld's TCC database (puppet.py), GitHub
(github.py), the mail relay (mail.py), the worker (worker.py), and on an M4 host enrolled by
the fleet's driver, MDM's enrolment (enrolment.py, with certificates.py) and the secrets broker
(broker.py).

Each module states at its top what it fakes and how it can fail. A model is installed on one
Mac and reaches it only through the `Mac` protocol (harness/mac/shims/calls.py): it adds its
commands, shows its files inside, and hooks the Mac's boots.
"""
from .. import fleet
from ..mac.shims.calls import Mac
from . import worker
from .mail import MailRelay


def install_fleet_world(mac: Mac) -> None:
    """What surrounds every fleet host, whatever else a run adds (puppet, GitHub): the mail relay
    python3's smtplib reaches, and the worker's command. Each boot event says whether the
    fleet's worker semaphore and the script copies of the bootstrap's daemon and of the M4
    enrolment driver's are on disk (the invariants read them)."""
    mac.report_at_boot("semaphore", fleet.SEMAPHORE)
    mac.report_at_boot("bootstrap_copy", fleet.BOOTSTRAP_COPY)
    mac.report_at_boot("driver_copy", fleet.DRIVER_COPY)
    MailRelay(mac).install()
    worker.install(mac)
