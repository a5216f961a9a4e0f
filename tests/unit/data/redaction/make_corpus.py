# ruff: noqa: E501  (corpus data: real credentials do not wrap)
"""Writes the redaction corpus (run once; the files are committed): python tests/unit/data/redaction/make_corpus.py

sensitive.tsv: kind <TAB> text <TAB> the substring that must not reach Loki. fields.jsonl: {"field", "value",
"secret"}: a field whose value must be masked. clean.txt: one line each that must reach Loki unchanged.
Every phone number here is checked to be a valid number by libphonenumber, so the corpus holds no fake ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import phonenumbers

HERE = Path(__file__).resolve().parent

PHONES = [  # (as written, region for checking validity)
    ("030 12345678", "DE"), ("+49 30 12345678", None), ("+49 170 1234567", None), ("0170 1234567", "DE"),
    ("01701234567", "DE"), ("(030) 1234-5678", "DE"), ("030/12345678", "DE"), ("+4915112345678", None),
    ("0049 30 12345678", "DE"), ("+49 (0)30 12345678", None), ("089 12345678", "DE"), ("0151 23456789", "DE"),
    ("+43 664 1234567", None), ("0664 1234567", "AT"), ("+43 1 5131234", None),
    ("+41 44 668 18 00", None), ("044 668 18 00", "CH"), ("079 123 45 67", "CH"),
    ("+31 20 123 4567", None), ("020 123 4567", "NL"), ("06 12345678", "NL"), ("06-12345678", "NL"),
    ("+33 1 23 45 67 89", None), ("01 23 45 67 89", "FR"), ("06.12.34.56.78", "FR"), ("06 12 34 56 78", "FR"),
    ("0612345678", "FR"), ("0033 6 12 34 56 78", "FR"),
    ("+44 20 7946 0958", None), ("+44 7911 123456", None), ("+91-9812345678", None), ("+91 98123 45678", None),
    ("+55 11 91234-5678", None), ("212.555.0147", "US"), ("(212) 555-0147", "US"), ("212-555-0147", "US"),
    ("+1 212 555 0147", None), ("+14155552671", None), ("+34 612 34 56 78", None), ("+39 312 345 6789", None),
    ("+48 512 345 678", None), ("+81 90-1234-5678", None),
]
PHONE_TEMPLATES = [
    "courier phone {} called", "customer={}", "Rückruf unter {} bitte", "tel:{}", "call {}.",
    "contact ({}) about order o-42", '{{"customer_phone": "{}"}}', "SMS to {} failed: timeout",
]

SECRETS = [
    # (kind, text, secret)
    ("aws_access_key_id", "using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_access_key_id", "AssumeRole gave ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
    ("aws_secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("aws_secret", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("aws_secret", '{"AccessKeyId": "AKIAI44QH8DHBEXAMPLE", "SecretAccessKey": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"}',
     "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
    ("aws_secret", '{"AccessKeyId": "AKIAI44QH8DHBEXAMPLE", "SecretAccessKey": "x"}', "AKIAI44QH8DHBEXAMPLE"),
    ("aws_secret", "aws secret: je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
    ("gcp_api_key", "maps key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe in url", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"),
    ("gcp_api_key", "GET /maps/api/geocode/json?address=x&key=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
     "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"),
    ("gcp_oauth", "token ya29.a0AfH6SMBx3kq9Zr7Lq0u8Yc2VfTn4Wp6Jd1Ke5Rg refreshed", "ya29.a0AfH6SMBx3kq9Zr7Lq0u8Yc2VfTn4Wp6Jd1Ke5Rg"),
    ("gcp_service_account", '{"type": "service_account", "private_key_id": "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"}',
     "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c"),
    ("azure_client_secret", "client secret is Abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789a now",
     "Abc8Q~dEfGhIjKlMnOpQrStUvWxYz0123456789a"),
    ("azure_storage", "DefaultEndpointsProtocol=https;AccountName=tracklog;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYg==;EndpointSuffix=core.windows.net",
     "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYg"),
    ("azure_sas", "GET https://tl.blob.core.windows.net/a/b.json?sv=2021-06-08&sp=r&se=2026-12-01&sig=Xk9%2Bq7Lr0QmZ4vT8wY3s%3D",
     "Xk9%2Bq7Lr0QmZ4vT8wY3s"),
    ("azure_servicebus", "Endpoint=sb://tl.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=q8Zk4Tn0Lw2Vx6Rb9Ys1Mc3Hd5Jf7Gp0Ae2Iu4Oo6=",
     "q8Zk4Tn0Lw2Vx6Rb9Ys1Mc3Hd5Jf7Gp0Ae2Iu4Oo6"),
    ("slack_token", "slack bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx posted",
     "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    ("slack_token", "user token xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef",
     "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef"),
    ("slack_token", "app token xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef",
     "0123456789abcdef0123456789abcdef"),
    ("slack_webhook", "posting to https://hooks.slack.com/services/T0AAA0AAA/B0BBB0BBB/cCcC1cCc2CccCc3cCCCcCC4c",
     "cCcC1cCc2CccCc3cCCCcCC4c"),
    ("github_token", "git clone with ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 failed",
     "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
    ("github_token", "oauth gho_16C7e42F292c6912E7710c838347Ae178B4a ok", "gho_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("github_token", "pat github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab used",
     "github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab"),
    ("gitlab_token", "PRIVATE-TOKEN: glpat-xXyYzZ0123456789aBcD", "glpat-xXyYzZ0123456789aBcD"),
    ("stripe_key", "stripe.api_key set to sk_live_51HxYzAbCdEfGhIjKlMnOpQrSt", "sk_live_51HxYzAbCdEfGhIjKlMnOpQrSt"),
    ("stripe_key", "restricted rk_live_51HxYzAbCdEfGhIjKlMnOpQ in use", "rk_live_51HxYzAbCdEfGhIjKlMnOpQ"),
    ("stripe_key", "test mode sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
    ("stripe_key", "webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----",
     "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"),
    ("pem", "key: -----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\\n-----END PRIVATE KEY-----\\n",
     "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"),
    ("pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"),
    ("pem", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49 (truncated",
     "MHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49"),
    ("jwt", "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("url_credentials", "connecting to postgres://app:Pa55w0rdX@db:5432/orders", "Pa55w0rdX"),
    ("url_credentials", "amqp://tracklog:rabbit-S3cret@mq.internal:5672/", "rabbit-S3cret"),
    ("email", "contact anna.schmidt@example.org about order 17", "anna.schmidt@example.org"),
    ("email", "Zustellung an jean-luc.picard+orders@beispiel.de fehlgeschlagen", "jean-luc.picard+orders@beispiel.de"),
    ("card", "charged card 4539 1488 0343 6467 for 12.50", "4539 1488 0343 6467"),
    ("card", "pan=4111111111111111 declined", "4111111111111111"),
    ("card", "card 5555-5555-5555-4444 expired", "5555-5555-5555-4444"),
    ("card", "amex 378282246310005 ok", "378282246310005"),
]
BEARER_TOKEN = "s3cr3tT0kenValue123"
BEARER_FORMS = [
    "Authorization: Bearer {}", "authorization: bearer {}", "AUTHORIZATION: BEARER {}", "Bearer {}",
    "curl -H 'Authorization: Bearer {}' https://api", '{{"Authorization": "Bearer {}"}}',
    "GET /v1/orders?access_token={}", "authorization=Bearer%20{}", "Authorization: Token {}",
    "header x-auth-token: {}", "Proxy-Authorization: Bearer {}",
]
BASIC = "Authorization: Basic dXNlcjpwYXNzd29yZA=="
KEY_NAMES = [
    "api_key", "apikey", "apiKey", "ApiKey", "API_KEY", "x-api-key", "X-API-Key", "X-Api-Key", "api.key",
    "client_secret", "clientSecret", "client-secret", "client.secret", "CLIENT_SECRET", "passwd", "password",
    "Password", "DB_PASSWORD", "db.password", "dbPassword", "db-passwd", "pwd", "DB_PASS", "access_token",
    "accessToken", "refresh_token", "refreshToken", "id_token", "private_key", "privateKey", "secret_key",
    "secretKey", "AccountKey", "auth_token", "authToken", "X-Auth-Token", "session_id", "sessionId", "secret",
    "SECRET", "credentials", "basic_auth", "encryption_key", "signing_key", "x-amz-security-token",
]
KEY_FORMS = ["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "?{k}={v}&page=2", "{k} = '{v}'", "--{k}={v}", "{k}=\"{v}\""]
SECRET_VALUE = "Zq7-pR2x_Kw9m"
FIELD_VALUES = ["Zq7-pR2x_Kw9m", "hunter2 with spaces"]

CLEAN = [
    # ids, coordinates, times, UUIDs, prices, Luhn-invalid long ids, addresses, routine log text
    "order o-42 delivered", "order ORD-2026-0012345 picked up", "courier c-17 at depot", "courier courier-0042 online",
    "order.id=o-981273 courier.id=c-0170123456", "shipment 00340434161094042557 scanned",
    "tracking 1Z999AA10123456784 in transit", "parcel JJD0001234567890 out for delivery",
    "position 52.520008,13.404954", "lat=52.520008 lon=13.404954", "at 48.8566, 2.3522 (Paris)",
    "geo 47.3769 8.5417 accuracy 12.5m", "moved to -33.868820, 151.209290", "bbox 52.3383,13.0884,52.6755,13.7611",
    "2026-11-27T10:00:00Z delivered", "2026-11-27 10:00:00.123456 picked", "at 27.11.2026 10:15", "on 01.02.2026",
    "epoch 1732700000 reached", "ts=1732700000123 seq=17", "took 250ms", "duration 12.345678s",
    "request 123e4567-e89b-12d3-a456-426614174000 done", "uuid 12345678-1234-1234-1234-123456789012",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7", "total €12.50", "price 12,50 €",
    "amount 1.234,56 EUR", "EUR 1234.56 refunded", "charged 1 234 567,89 CHF", "fee $0.99",
    "id 4111 1111 1111 1112 is not a card", "ref 1234567890123456", "batch 4539148803436468",
    "order 1234567890123 took 250ms", "from 185.220.101.34 ok", "from 10.0.0.1 ok", "version 2.42.0",
    "build 1.2.3.4567", "10115 Berlin, Invalidenstr. 117", "75001 Paris", "1010 Wien", "8001 Zürich",
    "GET /orders/0301234567/track 200 12.3ms", "GET /orders/12345/track 200", "page 3 of 17",
    "status=200 duration=12ms route=/orders/{id}", "cache_key=order:42", "keyboard: de", "auth.outcome=failure",
    "passport check ok", "compass: north", "bypass=true", "session: started", "author: anna",
    "token expired for u-42", "password reset requested for u-42", "the bearer of this parcel", "secret santa list",
    "retry 3/5 after 0.25s", "queue depth 1048576 bytes", "wrote 16777216 bytes", "port 5432 open",
    "http.response.status_code=503", "user u-5 logged in", "code 0x7f000001", "sha256 9f86d081884c7d659a2feaa0c55ad015",
    "ratio 0.1234567", "pi 3.14159265", "distance 1234567 m", "items 1 234 567", "batch of 4096 lines",
    "courier eta 12:45", "window 10:00-12:00", "zip 10115", "floor 3, door 12", "temperature -18.5 C",
    "weight 12.345 kg", "dimensions 30x20x15 cm", "customer u-123456789 (premium)", "invoice INV-2026-000123",
    "sku 4006381333931", "ean 5901234123457", "isbn 978-3-16-148410-0", "iban check skipped",
]
FIELD_CLEAN = [
    ("order.id", "o-42"), ("courier.id", "c-17"), ("token_count", 512), ("password_changed", True),
    ("secret_name", "db-main"), ("token_type", "bearer"), ("key", "orders/2026/11/27.json"),
    ("cache_key", "order:42"), ("api_version", "v2"), ("session_started", "2026-11-27T10:00:00Z"),
    ("geo.lat", 52.520008), ("geo.lon", 13.404954), ("amount", "12.50"), ("currency", "EUR"),
    ("auth.method", "password"), ("signature_valid", True), ("passport_checked", False),
]


def main() -> None:
    rows = []
    for written, region in PHONES:
        number = phonenumbers.parse(written, region)
        assert phonenumbers.is_valid_number(number), written
        for template in PHONE_TEMPLATES:
            rows.append(("phone", template.format(written), written))
    rows.extend(SECRETS)
    for form in BEARER_FORMS:
        rows.append(("bearer", form.format(BEARER_TOKEN), BEARER_TOKEN))
    rows.append(("basic", BASIC, "dXNlcjpwYXNzd29yZA=="))
    for key in KEY_NAMES:
        for form in KEY_FORMS:
            rows.append(("secret_pair", form.format(k=key, v=SECRET_VALUE), SECRET_VALUE))
    with (HERE / "sensitive.tsv").open("w", encoding="utf-8") as out:
        for kind, text, secret in rows:
            out.write("\t".join((kind, text.replace("\\", "\\\\").replace("\n", "\\n"), secret)) + "\n")
    with (HERE / "fields.jsonl").open("w", encoding="utf-8") as out:
        for key in KEY_NAMES:
            for value in FIELD_VALUES:
                out.write(json.dumps({"field": key, "value": value, "secret": value}) + "\n")
        for key, value in (("otp", 123456), ("cvv", 737), ("headers", {"X-Api-Key": SECRET_VALUE}),
                           ("request", {"headers": [{"Authorization": f"Bearer {BEARER_TOKEN}"}]})):
            out.write(json.dumps({"field": key, "value": value, "secret": str(value) if isinstance(value, int)
                                  else SECRET_VALUE if key == "headers" else BEARER_TOKEN}) + "\n")
    clean = [form.format(c) for c in CLEAN for form in ("{}", "note: {}", '{{"msg": "{}"}}')]
    (HERE / "clean.txt").write_text("\n".join(clean) + "\n", encoding="utf-8")
    with (HERE / "clean_fields.jsonl").open("w", encoding="utf-8") as out:
        for key, value in FIELD_CLEAN:
            out.write(json.dumps({"field": key, "value": value}) + "\n")
    print(f"{len(rows)} sensitive lines, {len(KEY_NAMES) * len(FIELD_VALUES) + 4} fields, {len(clean)} clean lines, "
          f"{len(FIELD_CLEAN)} clean fields")


if __name__ == "__main__":
    main()
