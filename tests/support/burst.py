"""A process that checks people in as fast as it can and prints each check-in id once its commit has returned.

Used by the kill -9 tests: what was printed was acknowledged, so it must survive the kill.
Usage: python -m tests.support.burst CONFIG COUNT [START]
"""

import sys

from kiosk.checkin import CheckinService
from kiosk.config import load
from kiosk.identity import parse
from kiosk.store import Store


def payload(i: int) -> str:
    # Hà Nội code 001, male born 1990, a unique six-digit tail.
    return f"001090{i:06d}||Nguyễn Văn Thử|01011990|Nam|Hà Nội|01012021"


def main() -> None:
    config = load(sys.argv[1])
    count, start = int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0
    store = Store(config.db_path)
    service = CheckinService(store, config.kiosk)
    print("ready", flush=True)
    for i in range(start, start + count):
        result = service.check_in(parse(payload(i)), "camera")
        print(result.checkin["id"], flush=True)


if __name__ == "__main__":
    main()
