"""Parliament over one IAM document, minus the findings components.iam accepts on purpose.

Shared by test_iam (the builders) and test_stacks (the documents the program really produces).
"""

from __future__ import annotations

import json
from typing import Any

from parliament import analyze_policy_string

from components.iam import ACCEPTED_FINDINGS

_ACCEPTED = {(issue, subject.lower()) for issue, subject in ACCEPTED_FINDINGS}


def finding_subject(finding: Any) -> tuple[str, str]:
    """(issue, what it is about): the action when parliament names one, else its detail."""
    actions = (finding.location or {}).get("actions")
    if actions:
        return finding.issue, actions[0].lower()
    if isinstance(finding.detail, list) and finding.detail and "action" in finding.detail[0]:
        return finding.issue, finding.detail[0]["action"].lower()
    return finding.issue, str(finding.detail).lower()


def findings(document: dict) -> list[tuple[str, str]]:
    """Every finding of parliament with the community auditors on."""
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
    return [finding_subject(finding) for finding in policy.findings]


def unaccepted_findings(document: dict) -> list[tuple[str, str]]:
    return [finding for finding in findings(document) if finding not in _ACCEPTED]


def accepted() -> set[tuple[str, str]]:
    return set(_ACCEPTED)
