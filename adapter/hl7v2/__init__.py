"""The HL7 v2 translation (hl7v2-contract.md): ORU^R01 -> the FHIR input the FHIR reader reads.

A second door into the same house (STYLE.md 1): `read_v2_message` turns one v2 message into a
collection Bundle of input Observations and Specimens, which `adapter.fhir.findings` reads to
the same `Her2Findings` a FHIR sender would give; nothing below the findings knows the door.

    errors.py    V2BadMessage (AR) / V2BadValue (AE), located (`OBX[4]-5`)
    parse.py     bytes -> messages (framing, BOM, separators, MSH-18 charset) -> python-hl7
    header.py    MSH facts for the ACK; which messages are accepted (ORU^R01, 2.3-2.8, P/T/D)
    codes.py     the v2 codes in mappings/ (coding systems, OBX-11, CAP keys, labels)
    coded.py     CWE/CE -> FHIR Codings / CodeableConcept
    orders.py    OBR/SPM structure: orders, specimen keys, site fields
    obx.py       which OBX are HER2 results (LOINC, CAP checklist, labelled text), OBX-11
    values.py    OBX-5 by OBX-2 -> FHIR value[x] (the HL7 v2-to-FHIR mapping)
    to_fhir.py   results -> Observation / Specimen JSON, deterministic ids
    reading.py   read_v2_message: the entry point; FHIR reader errors -> v2 locations
    ack.py       the ACK (contract 4), a pure function of message facts and outcome

What a message then gives, offline and in the worker, is the application layer's
(`adapter.service`): the same steps whichever door a result came through.
"""
