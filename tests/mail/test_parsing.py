"""The mail parser on mails built here, one problem each (the real-world corpus is in
test_corpus.py)."""

import base64
import datetime
import quopri
import textwrap
from pathlib import Path

import pytest

from mail import parsing
from mail.parsing import Address, AutoKind, MailParseError

DATA = Path(__file__).parent / "data"


def mail(headers: str, body: bytes | str = b"", *, crlf: bool = False) -> bytes:
    """A raw mail from header lines (dedented) and a body."""
    lines = textwrap.dedent(headers).splitlines()
    head = "\n".join(line for line in lines if line.strip()) + "\n\n"
    raw = head.encode("utf-8") + (body.encode("utf-8") if isinstance(body, str) else body)
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


# --- charsets and transfer encodings ---------------------------------------------------


def test_koi8_r_subject_sender_and_body_are_decoded():
    subject = base64.b64encode("Привет, мир".encode("koi8-r")).decode()
    name = base64.b64encode("Сергей".encode("koi8-r")).decode()
    raw = mail(
        f"""
        From: =?KOI8-R?B?{name}?= <sergey@example.ru>
        Subject: =?koi8-r?B?{subject}?=
        Content-Type: text/plain; charset=koi8-r
        Content-Transfer-Encoding: 8bit
        """,
        "Здравствуйте! Не работает принтер.\n".encode("koi8-r"),
    )
    parsed = parsing.parse_message(raw)
    assert parsed.subject == "Привет, мир"
    assert parsed.sender == Address(name="Сергей", address="sergey@example.ru")
    assert parsed.text == "Здравствуйте! Не работает принтер."


def test_windows_1250_polish_quoted_printable_body_and_q_encoded_subject():
    text = "Zażółć gęślą jaźń. Proszę o pomoc."
    subject = quopri.encodestring("Awaria drukarki – pilne".encode("cp1250"), header=True)
    raw = mail(
        f"""
        From: Jan =?windows-1250?Q?Kowalski_=A3ukasz?= <jan@example.pl>
        Subject: =?windows-1250?Q?{subject.decode()}?=
        Content-Type: text/plain; charset="windows-1250"
        Content-Transfer-Encoding: quoted-printable
        """,
        quopri.encodestring(text.encode("cp1250")),
    )
    parsed = parsing.parse_message(raw)
    assert parsed.subject == "Awaria drukarki – pilne"
    assert parsed.sender.name == "Jan Kowalski Łukasz"
    assert parsed.text == text


def test_iso_8859_2_body_without_transfer_encoding_header():
    raw = mail(
        """
        From: a@example.cz
        Content-Type: text/plain; charset=iso-8859-2
        """,
        "Příliš žluťoučký kůň".encode("iso-8859-2"),
    )
    assert parsing.parse_message(raw).text == "Příliš žluťoučký kůň"


def test_unregistered_charset_alias_iso_gb2312_reads_as_gb():
    body = base64.b64encode("您好，打印机坏了".encode("gb2312")).decode()
    raw = mail(
        """
        From: a@example.cn
        Content-Type: text/plain; charset=iso-gb2312
        Content-Transfer-Encoding: base64
        """,
        body,
    )
    assert parsing.parse_message(raw).text == "您好，打印机坏了"


def test_iso_2022_jp_body_and_subject():
    subject = base64.b64encode("メルマガ解除".encode("iso-2022-jp")).decode()
    raw = mail(
        f"""
        From: a@example.jp
        Subject: =?ISO-2022-JP?B?{subject}?=
        Content-Type: text/plain; charset=ISO-2022-JP
        Content-Transfer-Encoding: 7bit
        """,
        "解除してください。".encode("iso-2022-jp"),
    )
    parsed = parsing.parse_message(raw)
    assert parsed.subject == "メルマガ解除"
    assert parsed.text == "解除してください。"


def test_windows_1251_and_1252_bodies():
    for charset, text in (("windows-1251", "Сергей Углицких"), ("windows-1252", "Grüße – €")):
        raw = mail(
            f"""
            From: a@example.com
            Content-Type: text/plain; charset={charset}
            Content-Transfer-Encoding: 8bit
            """,
            text.encode(charset),
        )
        assert parsing.parse_message(raw).text == text


def test_broken_charset_declaration_falls_back_to_utf8_then_windows_1252():
    declared_unknown = mail(
        """
        From: a@example.com
        Content-Type: text/plain; charset="no-such-charset"
        """,
        "Grüße".encode(),
    )
    assert parsing.parse_message(declared_unknown).text == "Grüße"
    mislabelled = mail(
        """
        From: a@example.com
        Content-Type: text/plain; charset=utf-8
        """,
        "Grüße".encode("cp1252"),
    )
    assert parsing.parse_message(mislabelled).text == "Grüße"


def test_utf8_mislabelled_as_latin1_is_read_as_utf8():
    raw = mail(
        """
        From: a@example.com
        Content-Type: text/plain; charset=iso-8859-1
        Content-Transfer-Encoding: 8bit
        """,
        "Grüße".encode(),
    )
    assert parsing.parse_message(raw).text == "Grüße"


def test_invalid_transfer_encoding_value_is_taken_as_none():
    raw = mail(
        """
        From: a@example.com
        Content-Type: text/html; charset=utf-8
        Content-Transfer-Encoding: utf-8
        """,
        "<p>Grüße</p>",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "Grüße"
    assert parsed.html == "<p>Grüße</p>"


def test_binary_transfer_encoding_and_base64_without_padding():
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/mixed; boundary="b"
        Content-Transfer-Encoding: binary
        """,
        "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: binary\n\n"
        "Hallo\n"
        "--b\nContent-Type: application/octet-stream; name=x.bin\n"
        "Content-Transfer-Encoding: base64\n\n"
        "AAEC/w\n--b--\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "Hallo"
    assert parsed.attachments[0].data == b"\x00\x01\x02\xff"


def test_x_uuencode_attachment_without_begin_line():
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/mixed; boundary="b"
        """,
        "--b\nContent-Type: text/plain\n\nsee attached\n"
        '--b\nContent-Type: application/msword; name="a.doc"\n'
        "Content-Transfer-Encoding: x-uuencode\n\n"
        ",2&5L;&\\@6F%M;6%D\n`\n--b--\n",
    )
    assert parsing.parse_message(raw).attachments[0].data == b"Hello Zammad"


def test_raw_8bit_headers_in_utf8_and_gb2312():
    utf8 = b"From: J\xc3\xbcrgen <j@example.de>\nSubject: Gr\xc3\xbc\xc3\x9fe\n\nx"
    parsed = parsing.parse_message(utf8)
    assert (parsed.sender.name, parsed.subject) == ("Jürgen", "Grüße")
    gb = (
        b'From: "' + "武兰成".encode("gb2312") + b'" <w@example.cn>\n'
        b"Subject: " + "整体提升企业服务水平".encode("gb2312") + b"\n\nx"
    )
    parsed = parsing.parse_message(gb)
    assert (parsed.sender.name, parsed.subject) == ("武兰成", "整体提升企业服务水平")


def test_folded_and_broken_encoded_words():
    raw = mail(
        """
        From: =?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>
        Subject: =?utf-8?Q?test_1234_=C3=A4=C3=B6=C3=BC_sig_test_without_attachme?=
         =?utf-8?Q?nt?=
        Cc: =?utf-8?q?M=c3=bcller?= <m@example.com>, "Smith,
         John" <j@example.com>
        """,
        "x",
    )
    parsed = parsing.parse_message(raw)
    # Encoded words may hold no space; this one does, and a comma. Read as the sender meant.
    assert parsed.sender == Address(name="Bürling, Andreas", address="smith@example.com")
    assert parsed.subject == "test 1234 äöü sig test without attachment"
    assert parsed.cc == [
        Address(name="Müller", address="m@example.com"),
        Address(name="Smith, John", address="j@example.com"),
    ]


def test_multibyte_character_split_across_two_encoded_words():
    word = "ä".encode()
    first = base64.b64encode(b"a" + word[:1]).decode()
    second = base64.b64encode(word[1:] + b"b").decode()
    raw = mail(f"From: a@example.com\nSubject: =?utf-8?B?{first}?= =?utf-8?B?{second}?=", "x")
    assert parsing.parse_message(raw).subject == "aäb"


# --- headers, addresses, ids ----------------------------------------------------------


def test_ids_dates_recipients_and_loop_header():
    raw = mail(
        """
        From: "Smith, Anna" <anna@example.com>
        To: desk@example.com, Bob <bob@example.com>
        Cc: undisclosed-recipients:;
        Reply-To: Anna Private <anna@private.example>
        Subject: Re: [#123] Printer
        Message-ID: <abc@mail.example.com>
        In-Reply-To: <ours-1@helpdesk.example.com>
        References: <root@example.com>
         <ours-1@helpdesk.example.com>
        Date: Tue, 3 Dec 2024 10:15:00 +0100
        X-Loop: helpdesk@helpdesk.example.com
        """,
        "x",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.message_id == "abc@mail.example.com"
    assert parsed.in_reply_to == ["ours-1@helpdesk.example.com"]
    assert parsed.references == ["root@example.com", "ours-1@helpdesk.example.com"]
    assert parsed.sender == Address(name="Smith, Anna", address="anna@example.com")
    assert parsed.to == [
        Address(name="", address="desk@example.com"),
        Address(name="Bob", address="bob@example.com"),
    ]
    assert parsed.cc == []
    assert parsed.reply_to == [Address(name="Anna Private", address="anna@private.example")]
    assert parsed.loop_ids == ["helpdesk@helpdesk.example.com"]
    assert parsed.date == datetime.datetime(2024, 12, 3, 9, 15, tzinfo=datetime.UTC)
    assert parsed.auto_kind == AutoKind.NONE


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("Reply-To: r@example.com\nSender: s@example.com", "r@example.com"),
        ("From: Nobody <>\nSender: s@example.com", "s@example.com"),
        ("From: no address here\nReturn-Path: <rp@example.com>", "rp@example.com"),
    ],
)
def test_sender_falls_back_when_from_is_missing_or_unusable(headers, expected):
    assert parsing.parse_message(mail(headers + "\nSubject: x", "x")).sender.address == expected


def test_comment_form_and_two_addresses_in_from():
    parsed = parsing.parse_message(mail("From: marc@example.com (Marc Smith)", "x"))
    assert parsed.sender == Address(name="Marc Smith", address="marc@example.com")
    parsed = parsing.parse_message(mail("From: A <a@example.com>, B <b@example.com>", "x"))
    assert parsed.sender == Address(name="A", address="a@example.com")


def test_mbox_from_line_and_a_stray_line_before_the_headers():
    raw = b"---- Original email message ----\r\n" + mail(
        "From: a@example.com\nSubject: Contact", "hello", crlf=True
    )
    parsed = parsing.parse_message(raw)
    assert (parsed.sender.address, parsed.subject, parsed.text) == (
        "a@example.com",
        "Contact",
        "hello",
    )
    raw = b"From a@example.com  Tue Oct 29 03:52:03 2013\n" + mail("From: a@example.com", "hi")
    assert parsing.parse_message(raw).text == "hi"


def test_header_lines_that_lost_their_folding_are_joined_back():
    raw = mail(
        """
        X-Tracker: H4sIAAAAAAAAA
        Ig5drOCwmrVzP5sDoseXbDeYAxijWzLyk
        From: "Smith, Karoline" <k@example.com>
        Subject: AW: One Net
        Content-Type: multipart/alternative;
        boundary="XyZ"
        """,
        "--XyZ\nContent-Type: text/plain\n\nsome text\n--XyZ--\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.sender.address == "k@example.com"
    assert parsed.subject == "AW: One Net"
    assert parsed.text == "some text"


def test_header_summary_reads_headers_only_and_never_raises():
    raw = mail(
        "From: =?utf-8?Q?J=C3=BCrgen?= <j@example.de>\nSubject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\n"
        "Message-ID: <m1@example.de>",
        "x",
    )
    assert parsing.header_summary(raw) == (
        "m1@example.de",
        Address(name="Jürgen", address="j@example.de"),
        "Grüße",
    )
    for junk in (b"", b"\x00\xff" * 50, b"no headers at all", b":\n:\n\n"):
        message_id, sender, subject = parsing.header_summary(junk)
        assert isinstance(message_id, str)
        assert isinstance(sender, Address)
        assert isinstance(subject, str)


def test_nothing_readable_raises_mail_parse_error():
    for junk in (b"", b"   \r\n", b"\x00\x01\x02 binary, no header"):
        with pytest.raises(MailParseError):
            parsing.parse_message(junk)


# --- structure: body choice, attachments ----------------------------------------------


def test_text_plain_preferred_html_kept_sanitised():
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/alternative; boundary="b"
        """,
        "--b\nContent-Type: text/plain; charset=utf-8\n\nplain words\n"
        "--b\nContent-Type: text/html; charset=utf-8\n\n"
        '<p style="color:red">html <b>words</b></p><script>x()</script>\n--b--\n',
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "plain words"
    assert parsed.html == "<p>html <b>words</b></p>"
    assert parsed.attachments == []


def test_html_only_mail_gets_its_text_from_the_html():
    raw = mail(
        "From: a@example.com\nContent-Type: text/html; charset=utf-8",
        "<html><head><title>t</title></head><body><div>Hello&nbsp;there</div>"
        "<div>second<br>line</div></body></html>",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "Hello there\nsecond\nline"


def test_related_images_are_inline_attachments_with_content_id():
    png = b"\x89PNG\r\n\x1a\nfake"
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/related; boundary="r"
        """,
        '--r\nContent-Type: text/html; charset=utf-8\n\n<p>see <img src="cid:img1@x"></p>\n'
        "--r\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n"
        f"Content-ID: <img1@x>\n\n{b64(png)}--r--\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.html == '<p>see <img src="cid:img1@x"></p>'
    [image] = parsed.attachments
    assert (image.filename, image.content_type, image.data) == ("image.png", "image/png", png)
    assert (image.content_id, image.is_inline) == ("img1@x", True)


def test_rfc_2231_and_rfc_2047_filenames():
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/mixed; boundary="b"
        """,
        "--b\nContent-Type: text/plain\n\nfiles\n"
        "--b\nContent-Type: text/plain; name==?UTF-8?B?RXJrbMOkcnVuZy50eHQ=?=\n"
        "Content-Disposition: attachment; filename*=utf-8''Erkl%C3%A4rung.txt\n\none\n"
        "--b\nContent-Type: application/pdf\n"
        "Content-Disposition: attachment;\n filename*0*=iso-8859-1''Gr%FC%DFe%20aus;\n"
        " filename*1*=%20M%FCnchen.pdf\n\ntwo\n"
        "--b\nContent-Type: application/pdf;\n"
        ' name="=?windows-1258?Q?Capture_d=92e=CC=81cran.pdf?="\n\nthree\n'
        "--b\nContent-Type: application/octet-stream\n\nfour\n--b--\n",
    )
    names = [a.filename for a in parsing.parse_message(raw).attachments]
    assert names == ["Erklärung.txt", "Grüße aus München.pdf", "Capture d’écran.pdf", "file"]


def test_forwarded_message_becomes_an_eml_attachment_named_by_its_subject():
    inner = b"From: x@example.com\r\nSubject: Neue Anfrage\r\n\r\nBody of the old mail\r\n"
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/mixed; boundary="b"
        """,
        b"--b\nContent-Type: text/plain\n\nFYI\n--b\nContent-Type: message/rfc822\n"
        b"Content-Transfer-Encoding: 8bit\n\n" + inner + b"\n--b--\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "FYI"
    [eml] = parsed.attachments
    assert (eml.filename, eml.content_type, eml.data) == (
        "Neue Anfrage.eml",
        "message/rfc822",
        inner,
    )


def test_attachments_beyond_the_limit_are_dropped_and_counted(settings):
    settings.MAIL_MAX_ATTACHMENTS = 2
    parts = "".join(
        f"--b\nContent-Type: text/csv; name=f{n}.csv\nContent-Disposition: attachment\n\n{n}\n"
        for n in range(5)
    )
    raw = mail(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nmany\n" + parts + "--b--\n",
    )
    parsed = parsing.parse_message(raw)
    assert [a.filename for a in parsed.attachments] == ["f0.csv", "f1.csv"]
    assert parsed.dropped_attachments == 3


def test_winmail_dat_is_unpacked_into_its_attachments():
    tnef = (DATA / "two-files.tnef").read_bytes()
    raw = mail(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nsee attached\n"
        '--b\nContent-Type: application/ms-tnef; name="winmail.dat"\n'
        "Content-Transfer-Encoding: base64\n"
        'Content-Disposition: attachment; filename="winmail.dat"\n\n'
        f"{b64(tnef)}--b--\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "see attached"
    assert [(a.filename, len(a.data)) for a in parsed.attachments] == [
        ("AUTHORS", 244),
        ("README", 893),
    ]
    assert b"Authors" in parsed.attachments[0].data


def test_winmail_dat_body_is_used_when_the_mail_has_no_other_text():
    tnef = (DATA / "triples.tnef").read_bytes()
    raw = mail(
        "From: a@example.com\nContent-Type: application/ms-tnef\nContent-Transfer-Encoding: base64",
        b64(tnef),
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text.strip() == "Sample description"


def test_unreadable_winmail_dat_is_kept_as_it_came():
    raw = mail(
        'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nx\n"
        "--b\nContent-Type: application/ms-tnef; name=winmail.dat\n\nnot tnef\n--b--\n",
    )
    [attachment] = parsing.parse_message(raw).attachments
    assert (attachment.filename, attachment.data) == ("winmail.dat", b"not tnef")


# --- signed and encrypted -------------------------------------------------------------


def test_pgp_mime_signed_mail_keeps_its_text_and_the_signature():
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/signed; protocol="application/pgp-signature";
         micalg=pgp-sha512; boundary="s"
        """,
        "--s\nContent-Type: text/plain; charset=utf-8\n\nsigned words\n"
        "--s\nContent-Type: application/pgp-signature\n\n"
        "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n--s--\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "signed words"
    assert parsed.is_signed and not parsed.is_encrypted
    assert [a.filename for a in parsed.attachments] == ["signature.asc"]


def test_smime_detached_signature_is_kept_as_smime_p7s():
    raw = mail(
        """
        From: a@example.com
        Content-Type: multipart/signed; protocol="application/pkcs7-signature";
         micalg=sha-256; boundary="s"
        """,
        "--s\nContent-Type: text/plain\n\nsigned\n--s\n"
        "Content-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\n"
        "MIAGCSqGSIb3DQEHAqCAMIACAQEx\n--s--\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == "signed"
    assert [a.filename for a in parsed.attachments] == ["smime.p7s"]


def _opaque_signed(content: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sender@example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(certificate, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [])
    )


def test_smime_opaque_signed_mail_keeps_its_text():
    inner = b"Content-Type: text/plain; charset=utf-8\r\n\r\nGr\xc3\xbc\xc3\x9fe, signed inside\r\n"
    signed = _opaque_signed(inner)
    raw = mail(
        "From: a@example.com\n"
        'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\n'
        "Content-Transfer-Encoding: base64",
        b64(signed),
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text.strip() == "Grüße, signed inside"
    assert parsed.is_signed
    assert [(a.filename, a.data) for a in parsed.attachments] == [("smime.p7m", signed)]


def test_smime_encrypted_mail_is_kept_as_smime_p7m():
    blob = b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03" + b"\x00" * 20
    raw = mail(
        "From: a@example.com\n"
        'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
        "Content-Transfer-Encoding: base64",
        b64(blob),
    )
    parsed = parsing.parse_message(raw)
    assert parsed.text == ""
    assert parsed.is_encrypted
    assert [(a.filename, a.data) for a in parsed.attachments] == [("smime.p7m", blob)]


# --- automatic mail -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("From: a@example.com\nSubject: Printer", AutoKind.NONE),
        ("From: a@example.com\nAuto-Submitted: no\nSubject: x", AutoKind.NONE),
        ("From: a@example.com\nAuto-Submitted: auto-replied\nSubject: x", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nAuto-Submitted: auto-generated\nSubject: x", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nSubject: Automatic reply: Printer", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nSubject: Out of Office: Printer", AutoKind.AUTO_REPLY),
        # Older Exchange, and a bare subject with nothing after it.
        ("From: a@example.com\nSubject: Out of Office AutoReply: VPN", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nSubject: Out of Office", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nSubject: Out of office laptop is broken", AutoKind.NONE),
        ("From: a@example.com\nSubject: Abwesenheitsnotiz: Drucker", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nSubject: Odpowiedź automatyczna: x", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nX-Autoreply: yes\nSubject: x", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nX-Autorespond: x\nSubject: x", AutoKind.AUTO_REPLY),
        ("From: a@example.com\nList-Id: <users.lists.example.com>", AutoKind.LIST),
        ("From: a@example.com\nPrecedence: list", AutoKind.LIST),
        ("From: a@example.com\nPrecedence: bulk", AutoKind.BULK),
        ("From: a@example.com\nPrecedence: junk", AutoKind.BULK),
        ("From: a@example.com\nList-Unsubscribe: <mailto:u@example.com>", AutoKind.BULK),
        ("From: a@example.com\nX-Auto-Response-Suppress: All", AutoKind.BULK),
        ("From: MAILER-DAEMON@example.com\nSubject: Undelivered Mail", AutoKind.BOUNCE),
        ("From: postmaster@example.com\nSubject: whatever", AutoKind.BOUNCE),
        (
            "From: Mail Delivery <mail@example.com>\nReturn-Path: <>\n"
            "Subject: Delivery Status Notification (Failure)",
            AutoKind.BOUNCE,
        ),
        (
            "From: MAILER-DAEMON@example.com\nAuto-Submitted: auto-replied\nSubject: x",
            AutoKind.BOUNCE,
        ),
    ],
)
def test_classification_of_automatic_mail(headers, kind):
    assert parsing.parse_message(mail(headers, "x")).auto_kind == kind


def test_a_person_writing_about_delivery_status_is_not_a_bounce():
    raw = mail(
        "From: a@example.com\nReturn-Path: <a@example.com>\n"
        "Subject: Delivery Status Notification problems in our shop",
        "x",
    )
    assert parsing.parse_message(raw).auto_kind == AutoKind.NONE


DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: desk@helpdesk.example.com
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--r
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; gone@example.org
Original-Recipient: rfc822;gone@example.org
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <gone@example.org>: Recipient address
    rejected: User unknown

--r
Content-Type: {returned_type}

From: desk@helpdesk.example.com
To: gone@example.org
Subject: [#42] Your printer
Message-ID: <t42.1@helpdesk.example.com>
References: <root@example.org> <t42.0@helpdesk.example.com>

Hello

--r--
"""


def test_delivery_status_notification_is_read():
    raw = DSN.format(action="failed", status="5.1.1", returned_type="message/rfc822").encode()
    parsed = parsing.parse_message(raw)
    assert parsed.auto_kind == AutoKind.BOUNCE
    bounce = parsed.bounce
    assert bounce.failed_recipients == ["gone@example.org"]
    assert bounce.status == "5.1.1"
    assert bounce.diagnostic == (
        "smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"
    )
    assert bounce.is_permanent
    assert bounce.original_message_id == "t42.1@helpdesk.example.com"
    assert bounce.original_references == ["root@example.org", "t42.0@helpdesk.example.com"]
    assert parsed.text.startswith("I'm sorry")
    assert [a.content_type for a in parsed.attachments] == [
        "message/delivery-status",
        "message/rfc822",
    ]
    assert parsed.attachments[1].filename == "[#42] Your printer.eml"


def test_delay_notice_with_returned_headers_only_is_not_permanent():
    raw = DSN.format(action="delayed", status="4.4.1", returned_type="text/rfc822-headers").encode()
    bounce = parsing.parse_message(raw).bounce
    assert not bounce.is_permanent
    assert bounce.status == "4.4.1"
    assert bounce.original_message_id == "t42.1@helpdesk.example.com"


def test_plain_text_bounce_is_read_as_well_as_it_can_be():
    raw = mail(
        """
        From: MAILER-DAEMON@example.com (Mail Delivery System)
        Return-Path: <>
        Subject: Undelivered Mail Returned to Sender
        """,
        "This is the mail system at host mx.example.com.\n\n"
        "<gone@example.org>: host mx.example.org said: 550 5.1.1 User unknown\n\n"
        "------ Original message ------\n"
        "Message-ID: <t42.1@helpdesk.example.com>\n"
        "Subject: [#42] Your printer\n",
    )
    parsed = parsing.parse_message(raw)
    assert parsed.auto_kind == AutoKind.BOUNCE
    assert parsed.sender == Address(
        name="Mail Delivery System", address="MAILER-DAEMON@example.com"
    )
    assert parsed.bounce.failed_recipients == ["gone@example.org"]
    assert parsed.bounce.original_message_id == "t42.1@helpdesk.example.com"
    assert parsed.bounce.status == "5.1.1"


# --- HTML -----------------------------------------------------------------------------


def test_sanitize_html_removes_active_content_and_remote_images():
    dirty = (
        '<div style="display:none" onclick="steal()">hidden?</div>'
        "<script>alert(1)</script><style>p {color: white}</style>"
        '<img src="https://tracker.example.com/pixel.gif" onerror="alert(1)">'
        '<img src="cid:logo@x"><img src="data:image/png;base64,iVBORw0KGgo=">'
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">'
        '<form action="https://evil.example.com"><input name="password"><button>Go</button></form>'
        '<iframe src="https://evil.example.com"></iframe><object data="x.swf"></object>'
        '<a href="javascript:alert(1)">js</a><a href="data:text/html,x">data</a>'
        '<a href="https://example.com/" rel="opener" target="_blank">ok</a>'
    )
    clean = parsing.sanitize_html(dirty)
    for forbidden in (
        "<script",
        "alert",
        "<style",
        "style=",
        "onclick",
        "onerror",
        "tracker.example.com",
        "svg",
        "<form",
        "<input",
        "<iframe",
        "<object",
        "javascript:",
        "data:text",
        'rel="opener"',
    ):
        assert forbidden not in clean, forbidden
    assert "<div>hidden?</div>" in clean
    assert '<img src="cid:logo@x">' in clean
    assert '<img src="data:image/png;base64,iVBORw0KGgo=">' in clean
    assert 'href="https://example.com/"' in clean
    assert 'rel="noopener noreferrer nofollow"' in clean


def test_html_to_text_breaks_blocks_and_decodes_entities():
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<p>First&nbsp;para &amp; more</p><p>Second   para</p>"
        "<div>line one<br>line two</div><div><br></div><div>after a gap</div>"
        "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
        "</body></html>"
    )
    assert parsing.html_to_text(html) == (
        "First para & more\n\nSecond para\n\nline one\nline two\n\nafter a gap\n\none\ntwo\n\na b"
    )


# --- quoted history -------------------------------------------------------------------

SPLIT_CASES = {
    "english": (
        "Thanks, it works now.\n\nOn Mon, 2 Dec 2024 at 10:00, Service Desk <desk@example.com>"
        " wrote:\n> Please restart the printer.\n> \n> Regards\n",
        "Thanks, it works now.\n",
    ),
    "english wrapped attribution": (
        "Thanks.\n\nOn Mon, 2 Dec 2024 at 10:00, Service Desk <\ndesk@example.com> wrote:\n"
        "> Restart it.\n",
        "Thanks.\n",
    ),
    "polish": (
        "Dziękuję, działa.\n\nW dniu 2.12.2024 o 10:00, Service Desk pisze:\n> Proszę "
        "zrestartować drukarkę.\n",
        "Dziękuję, działa.\n",
    ),
    "german": (
        "Danke, geht wieder.\n\nAm 02.12.2024 um 10:00 schrieb Service Desk <d@example.com>:"
        "\n> Bitte den Drucker neu starten.\n",
        "Danke, geht wieder.\n",
    ),
    "outlook separator": (
        "Still broken.\r\n\r\n-----Original Message-----\r\nFrom: Service Desk\r\n"
        "Sent: Monday, December 2, 2024 10:00 AM\r\nSubject: Printer\r\n\r\nRestart it.\r\n",
        "Still broken.\r\n",
    ),
    "outlook header block": (
        "Still broken.\n\n________________________________\nFrom: Service Desk "
        "<desk@example.com>\nSent: Monday, December 2, 2024 10:00\nTo: Anna\n"
        "Subject: Printer\n\nRestart it.\n",
        "Still broken.\n",
    ),
    "german outlook header block": (
        "Geht nicht.\n\nVon: Service Desk <desk@example.com>\nGesendet: Montag, 2. Dezember"
        " 2024 10:00\nAn: Anna\nBetreff: Drucker\n\nBitte neu starten.\n",
        "Geht nicht.\n",
    ),
    "signature": (
        "Please call me.\n\n-- \nAnna Smith\nAccounting, room 12\n",
        "Please call me.\n",
    ),
    "signature then history": (
        "Please call me.\n-- \nAnna\n\nOn Mon, 2 Dec 2024, Desk wrote:\n> Hi\n",
        "Please call me.\n",
    ),
    "trailing quote without attribution": (
        "Yes.\n\n> Is it on?\n> Really?\n\n",
        "Yes.\n",
    ),
}


@pytest.mark.parametrize("case", SPLIT_CASES, ids=list(SPLIT_CASES))
def test_split_quoted_folds_history_and_signature(case):
    text, visible = SPLIT_CASES[case]
    shown, folded = parsing.split_quoted(text)
    assert shown == visible
    assert shown + folded == text


@pytest.mark.parametrize(
    "text",
    [
        "> Is the printer on?\nYes.\n> And the network cable?\nAlso yes.\n",
        "On Mon, 2 Dec 2024, Desk wrote:\n> Is it on?\n\nYes, it is on.\n",
        "-----Original Message-----\nFrom: Desk\nSent: today\n\nforwarded only\n",
        "Just one line, nothing quoted.",
        "",
    ],
    ids=["inline answers", "bottom posting", "nothing above the history", "plain", "empty"],
)
def test_split_quoted_folds_nothing_when_that_would_hide_what_was_written(text):
    assert parsing.split_quoted(text) == (text, "")
