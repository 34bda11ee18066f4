"""A local swarm for development: a hub and N nodes as separate processes on loopback."""

from nunet.devstack.plan import NodePlan, StackPlan
from nunet.devstack.process import NodeProcess, StackError
from nunet.devstack.stack import DevStack, RunningNode

__all__ = ["DevStack", "NodePlan", "NodeProcess", "RunningNode", "StackError", "StackPlan"]
