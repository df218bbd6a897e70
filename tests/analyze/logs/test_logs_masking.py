import pytest

from opscope.analyze.logs.masking import mask_datetimes, mask_token


@pytest.mark.parametrize(
    ("token", "masked"),
    [
        ("42", "<*>"),
        ("-17", "<*>"),
        ("10.251.73.220:50010", "<*>:<*>"),
        ("/10.251.73.220:50010", "<*>:<*>"),
        ("blk_-6952295868487656571", "<*>"),
        ("(TID", "(TID"),
        ("12).", "<*>)."),
        ("uid=0", "uid=<*>"),
        ("rhost=220-135-151-1.hinet-ip.hinet.net", "rhost=<*>"),
        ("0x1f", "<*>"),
        ("mask=ffffffff", "mask=<*>"),
        ("/var/log/messages", "<*>"),
        ("spark://Driver@10.0.0.1:4040", "spark://<*>"),
        ("hdfs://ns1/user/x/part-00001)", "hdfs://<*>)"),
        ("C:\\Windows\\System32\\x.dll,", "<*>,"),
        ("123e4567-e89b-12d3-a456-426614174000", "<*>"),
        ("HTTP/1.1", "HTTP/<*>"),
        ("'<*>'", "'<*>'"),
        ("force=true,", "force=<*>,"),
        ("ssh2", "ssh2"),
        ("eth0", "eth0"),
        ("10ms", "<*>"),
        ("4GB", "<*>"),
        ("v2.6.5", "<*>"),
        ("QuorumServer@1b4ba615", "QuorumServer@<*>"),
        ("Served", "Served"),
        ("core.1234", "core.<*>"),
        ("07:07:00", "<*>:<*>:<*>"),
    ],
)
def test_mask_token(token: str, masked: str) -> None:
    assert mask_token(token) == masked


def test_written_out_datetime_is_one_value() -> None:
    line = "connection from 1.2.3.4 at Fri Jun 17 07:07:00 2005"
    assert mask_datetimes(line) == "connection from 1.2.3.4 at <*>:<*>:<*>"
    assert mask_datetimes("at 2024-01-02T03:04:05.123Z done") == "at <*>:<*>:<*> done"
