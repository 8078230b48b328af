"""The fake WeCom's crypto against WeCom's worked example and against wechatpy's.

The example is WeCom's own (the WXBizMsgCrypt sample, ``Sample.py``): a URL check and a
message, with the token, EncodingAESKey and CorpID that produced them. The fake must read both
exactly as WeCom's library does; wechatpy, which the bot uses, must read what the fake writes,
and the other way round, so that the end-to-end tests hold two implementations against each
other rather than one against itself.
"""

from __future__ import annotations

import aiohttp
import pytest
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException

from tests.support.fake_wecom import GETTOKEN, MEDIA_GET, FakeWeCom, MsgCrypt, new_aes_key

# WeCom's sample (WXBizMsgCrypt, Sample.py).
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"
VERIFY = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": (
        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    ),
}
ECHO = "1288432023552776189"
MESSAGE = {
    "msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "timestamp": "1476422779",
    "nonce": "1597212914",
    "encrypt": (
        "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3Ny"
        "eTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqf"
        "de0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2p"
        "FrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg8"
        "4EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
    ),
}
PLAIN = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)


def test_the_fake_reads_the_documentations_url_check_and_message() -> None:
    crypt = MsgCrypt(TOKEN, AES_KEY, CORP_ID)
    assert (
        crypt.signature(VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"])
        == (VERIFY["msg_signature"])
    )
    assert crypt.decrypt(VERIFY["echostr"]) == (ECHO, CORP_ID)
    signed = crypt.signature(MESSAGE["timestamp"], MESSAGE["nonce"], MESSAGE["encrypt"])
    assert signed == MESSAGE["msg_signature"]
    assert crypt.decrypt(MESSAGE["encrypt"]) == (PLAIN, CORP_ID)


def test_wechatpy_reads_the_documentations_example_as_the_fake_does() -> None:
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    echo = crypto.check_signature(
        VERIFY["msg_signature"], VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"]
    )
    assert echo == ECHO
    envelope = {"Encrypt": MESSAGE["encrypt"]}
    plain = crypto.decrypt_message(
        envelope, MESSAGE["msg_signature"], MESSAGE["timestamp"], MESSAGE["nonce"]
    )
    assert plain == PLAIN


def test_wechatpy_and_the_fake_read_each_others_ciphertext() -> None:
    key = new_aes_key()
    crypt = MsgCrypt(TOKEN, key, CORP_ID)
    prp = PrpCrypto(crypt.key)
    for text in ("", "你好", "x" * 31, "y" * 32, PLAIN * 3):
        assert prp.decrypt(crypt.encrypt(text), CORP_ID) == text
        assert crypt.decrypt(prp.encrypt(text, CORP_ID).decode()) == (text, CORP_ID)
    # Encrypted for another enterprise: wechatpy notices, as the bot relies on.
    foreign = crypt.encrypt("<xml/>", "ww-another-corp")
    with pytest.raises(InvalidCorpIdException):
        prp.decrypt(foreign, CORP_ID)


async def test_the_fake_serves_a_members_file_to_a_token_holder_only() -> None:
    async with FakeWeCom() as fake, aiohttp.ClientSession(fake.root) as client:
        media_id = fake.add_media(b"\x89PNG....", "photo.png", "image/png")
        query = {"corpid": fake.corp_id, "corpsecret": fake.secret}
        async with client.get(GETTOKEN, params=query) as answer:
            token = (await answer.json())["access_token"]
        wanted = {"access_token": token, "media_id": media_id}
        async with client.get(MEDIA_GET, params=wanted) as got:
            assert (got.content_type, await got.read()) == ("image/png", b"\x89PNG....")
            assert 'filename="photo.png"' in got.headers["Content-Disposition"]
        for params, errcode in (
            ({"access_token": token, "media_id": "unknown"}, 40007),
            ({"access_token": "forged", "media_id": media_id}, 40014),
        ):
            async with client.get(MEDIA_GET, params=params) as refused:
                assert (await refused.json())["errcode"] == errcode
