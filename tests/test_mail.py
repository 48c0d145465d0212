"""The mail model: python3's smtplib on the Mac reaches a recorded relay, never the network."""
from __future__ import annotations

from harness import MachineConfig, Verdict

# run-puppet.sh's mailer, as it is in the script (MAILER_PY).
MAILER = """import smtplib, socket, sys
from email.message import EmailMessage
msg = EmailMessage()
msg["From"], msg["To"], msg["Subject"] = "root@" + socket.getfqdn(), sys.argv[1], sys.argv[3]
msg.set_content(sys.stdin.read())
smtplib.SMTP(sys.argv[2], timeout=60).send_message(msg)"""


def mailing(*lines: str) -> str:
    """A script that defines MAILER_PY and runs `lines`."""
    return "#!/bin/bash\nMAILER_PY='" + MAILER + "'\n" + "\n".join(lines) + "\n"


def test_a_message_handed_to_a_relay_is_recorded_with_its_headers_and_body(mac):
    mac.run(mailing('python3 -c "$MAILER_PY" relops@example.com smtp.example.com "apply failed" <<<"line 1',
                    '.a line with a leading dot',
                    'line 3"',
                    'echo "status $?" > /var/tmp/status'))
    assert mac.read("/var/tmp/status") == "status 0\n"
    (mail,) = [e.data for e in mac.kinds("mail")]
    assert mail == {"relay": "smtp.example.com", "port": 25, "from": "root@localhost",
                    "to": "relops@example.com", "recipients": ["relops@example.com"],
                    "subject": "apply failed", "body": "line 1\n.a line with a leading dot\nline 3\n"}
    assert [call["argv"][1] for call in mac.calls("macsim-mail")] == ["connect", "deliver"]


def test_before_the_network_is_up_the_relays_name_does_not_resolve(mac):
    mac.run(mailing('python3 -c "$MAILER_PY" relops@example.com smtp.example.com early 2>/var/tmp/early <<<x',
                    "sleep 60",
                    'python3 -c "$MAILER_PY" relops@example.com smtp.example.com late <<<x'),
            config=MachineConfig(network_up_after_s=60))
    assert mac.read("/var/tmp/early").splitlines()[-1] == \
        "socket.gaierror: [Errno 8] nodename nor servname provided, or not known"
    assert [e.data["subject"] for e in mac.kinds("mail")] == ["late"]


def test_the_mac_itself_runs_no_mail_server(mac):
    mac.run(mailing('python3 -c "$MAILER_PY" root@localhost localhost local 2>/var/tmp/err <<<x'))
    assert mac.read("/var/tmp/err").splitlines()[-1] == "ConnectionRefusedError: [Errno 61] Connection refused"
    assert mac.kinds("mail") == []


def test_python_sees_the_environment_and_the_path_it_was_given(mac):
    probe = ("import os, sys, subprocess; print(os.environ.get('PYTHONPATH'), "
             "any(p.startswith('/.macsim') for p in sys.path), sys.executable, "
             "subprocess.run(['printenv', 'PYTHONPATH'], capture_output=True, text=True).stdout.strip() or '-')")
    mac.run(f"""
        #!/bin/bash
        python3 -c "{probe}" > /var/tmp/unset
        PYTHONPATH=/opt/lib python3 -c "{probe}" > /var/tmp/set
        cd /var/tmp && PYTHONPATH= python3 -c "import os, sys; print(sys.path.count(os.getcwd()))" > /var/tmp/empty
        env | grep -c PYTHONPATH > /var/tmp/bash || true
        """)
    assert mac.read("/var/tmp/unset") == "None False /usr/bin/python3 -\n"
    assert mac.read("/var/tmp/set") == "/opt/lib False /usr/bin/python3 /opt/lib\n"
    assert mac.read("/var/tmp/bash") == "0\n"
    assert mac.read("/var/tmp/empty") == "0\n"  # the empty PYTHONPATH adds no entry for the cwd


def test_a_conversation_smtplib_can_have_with_a_relay_ends_in_one_recorded_message(mac):
    conversation = """
import smtplib
relay = smtplib.SMTP("smtp.example.com", 587)
print(relay.ehlo()[0], relay.has_extn("starttls"), relay.noop()[0], relay.rcpt("a@example.com")[0])
print(relay.sendmail("root@mac", ["a@example.com", "b@example.com"], "Subject: two\\n\\nfor both\\n"))
relay.quit()
try:
    smtplib.SMTP_SSL("smtp.example.com")
except ConnectionRefusedError as error:
    print(error)
"""
    result = mac.run(f"#!/bin/bash\npython3 -c '{conversation}' > /var/tmp/out 2>&1\n")
    assert result.verdict is Verdict.QUIET
    assert mac.read("/var/tmp/out").splitlines() == ["250 False 250 503", "{}", "[Errno 61] Connection refused"]
    (mail,) = [e.data for e in mac.kinds("mail")]
    assert (mail["port"], mail["recipients"], mail["subject"], mail["body"]) == (
        587, ["a@example.com", "b@example.com"], "two", "for both\n")
