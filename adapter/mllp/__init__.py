"""The MLLP door (hl7v2-contract.md 1, 4): HL7 v2 over TCP into the same queue as the API.

framing.py    an incremental MLLP frame decoder (0x0B ... 0x1C 0x0D, 16 MiB limit)
frames.py     one frame -> dry-run read, job queued, the ACK (the v2 twin of service/admission)
listener.py   the asyncio server: per-connection order, ACK after the broker, TLS, stop
senders.py    the allow-list and each facility's client certificate, judged on MSH alone
"""
