"""The lab's API load balancer spreads connections and skips the down."""

from gauntlet.lab.lb import Balancer

CP1, CP2, CP3 = ((f"10.250.0.1{i}", 6443) for i in (1, 2, 3))


def test_each_connection_starts_at_the_next_api_server():
    lb = Balancer([CP1, CP2, CP3])

    firsts = [lb.candidates()[0] for _ in range(6)]

    assert firsts == [CP1, CP2, CP3, CP1, CP2, CP3]


def test_a_down_api_server_is_tried_last():
    lb = Balancer([CP1, CP2, CP3])
    lb.healthy[CP2] = False

    tried = [lb.candidates() for _ in range(3)]

    assert [order[0] for order in tried] == [CP1, CP3, CP3]
    assert all(order[-1] == CP2 for order in tried)
