"""The lab's API load balancer fails over in a fixed order."""

from gauntlet.lab.lb import Balancer

CP1, CP2, CP3 = ((f"10.250.0.1{i}", 6443) for i in (1, 2, 3))


def test_connections_go_to_the_first_healthy_api_server():
    lb = Balancer([CP1, CP2, CP3])

    assert [lb.candidates()[0] for _ in range(3)] == [CP1, CP1, CP1]


def test_a_down_api_server_is_tried_last():
    lb = Balancer([CP1, CP2, CP3])
    lb.healthy[CP1] = False

    assert lb.candidates() == [CP2, CP3, CP1]
