"""Parliament over one IAM document, minus the findings components.iam accepts on purpose.

Shared by test_iam (the builders) and test_stacks (the documents the program really produces).
`ACCEPTED_FINDINGS` are accepted in any document; `TRUST_POLICY_FINDINGS` (a missing Resource)
only in a trust policy, which the caller says a document is: an identity policy without a
Resource is a real defect and must be reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from parliament import analyze_policy_string

from components.iam import ACCEPTED_FINDINGS, TRUST_POLICY_FINDINGS


def _keys(findings: Mapping[tuple[str, str], str]) -> frozenset[tuple[str, str]]:
    return frozenset((issue, subject.lower()) for issue, subject in findings)


_ACCEPTED = _keys(ACCEPTED_FINDINGS)
_ACCEPTED_IN_TRUST = _ACCEPTED | _keys(TRUST_POLICY_FINDINGS)


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


def unaccepted_findings(document: dict, *, trust_policy: bool = False) -> list[tuple[str, str]]:
    """Findings not accepted for this kind of document (`trust_policy`: an assume-role one)."""
    accepted = _ACCEPTED_IN_TRUST if trust_policy else _ACCEPTED
    return [finding for finding in findings(document) if finding not in accepted]


def accepted(*, trust_policy: bool = False) -> set[tuple[str, str]]:
    return set(_ACCEPTED_IN_TRUST if trust_policy else _ACCEPTED)


def seen_in(documents: Iterable[dict]) -> set[tuple[str, str]]:
    return {finding for document in documents for finding in findings(document)}
