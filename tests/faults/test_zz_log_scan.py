"""Last in the fault suite (files run in name order): every log line the services wrote during
the suite, scanned for the resident ID numbers and names that were sent in. None may appear."""

from __future__ import annotations

import json
import re

import pytest

from tests.faults.conftest import SENT_IN, figures

pytestmark = [pytest.mark.faults]
ID_LIKE = re.compile(r"[0-9]{17}[0-9Xx]")
HAN_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


def readable(line: str) -> str:
    """The line with JSON escapes undone (a name logged as \\u738b\\u82b3 is still a name)."""
    try:
        return json.dumps(json.loads(line), ensure_ascii=False)
    except ValueError:
        return line


def test_no_log_line_of_the_suite_holds_a_resident_id_number_or_a_name_sent_in() -> None:
    if not SENT_IN.logs or not SENT_IN.resident_ids:
        pytest.skip("run with the rest of tests/faults: this scans what the other fault tests wrote")
    lines = found_ids = found_names = 0
    examples: list[str] = []
    longest = max(len(name) for name in SENT_IN.names)
    for path in sorted(SENT_IN.logs):
        for raw in path.read_text(errors="replace").splitlines():
            lines += 1
            line = readable(raw)
            ids = [number for number in ID_LIKE.findall(line) if number in SENT_IN.resident_ids]
            names = [run[i:i + n] for run in HAN_RUN.findall(line) for n in range(2, longest + 1)
                     for i in range(len(run) - n + 1) if run[i:i + n] in SENT_IN.names]
            found_ids += len(ids)
            found_names += len(names)
            if (ids or names) and len(examples) < 3:
                examples.append(f"{path.name}: {raw[:200]}")
    figures("log scan", log_files=len(SENT_IN.logs), lines=lines, resident_ids_sent=len(SENT_IN.resident_ids),
            names_sent=len(SENT_IN.names), ids_found=found_ids, names_found=found_names)
    assert lines > 0
    assert found_ids == 0 and found_names == 0, examples
