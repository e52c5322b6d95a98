"""Texts to citizens who asked for them: "3 people before you", "come to desk N now", the dose and its certificate.

- `numbers`: the typed number refused with a stable code (the rules are `base.phone`, the masking
  `base.privacy.mask_phone`);
- `optin`: the number a citizen typed after their check-in and agreed to be texted at, for that day only
  (table `sms_optins`; never sent to central; purged when the day is over);
- `hooks`: when to text, called inside the transaction of the queue move or the dose that causes the message;
- `outbox`: the durable queue of texts (table `sms_outbox`) and its states;
- `messages`: the words (Vietnamese, per-site templates from `[sms]`);
- `part`: the sender part (one modem, each message once, retries with backoff, the day-end purge);
- `commands`: `vaxkiosk sms-test`.
The modem, its configuration file and the SMS alphabets are hardware facts and live in `drivers.gsm_modem` and
`drivers.sms_encoding` (central's alert texts use them too).
"""
