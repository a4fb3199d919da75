import binascii

import evwire

VECTOR_FRAME = (
    "0056a3626964634350316474797065746865616c74685f636865636b5f726571756573746a6d6573"
    "736167655f6964782430303030303030302d303030302d343030302d383030302d3030303030303030"
    "30303030d1ed00"
)


def test_architecture_frame_vector():
    msg = {"type": "health_check_request", "id": "CP1",
           "message_id": "00000000-0000-4000-8000-000000000000"}
    assert binascii.hexlify(evwire.encode_frame(msg)).decode() == VECTOR_FRAME


def test_crc_check_value():
    assert evwire.crc16_ccitt_false(b"123456789") == 0x29B1
