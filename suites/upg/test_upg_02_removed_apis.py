"""UPG-02: nothing uses an API that the target removes."""

import pytest

from gauntlet.checks.upg.removed_apis import check_no_removed_apis

pytestmark = [pytest.mark.profile("preupgrade")]


@pytest.mark.guarantee("UPG-02")
@pytest.mark.readonly
def test_nothing_requests_stores_or_applies_an_api_the_target_removes(
    check, target_version
):
    """Guarantee: no API server MUST have served, and no stored object,
    last-applied configuration or Helm release MUST use, a group/version
    that a release after the cluster's version up to the target removes;
    each finding names the object or API server, the removed API and its
    replacement."""
    check_no_removed_apis(check, target_version)
