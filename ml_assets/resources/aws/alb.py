"""The Application Load Balancer: weighted forwarding between the blue and green target groups."""

from __future__ import annotations

import time
from typing import Any

from ml_assets.resources.aws.session import AwsClientResource, AwsError, poll


def metric_dimension(arn: str, marker: str) -> str:
    """CloudWatch's dimension value for a load balancer or target group ARN ('app/...', 'targetgroup/...')."""
    return arn.split(":")[-1].removeprefix(marker)


class AlbResource(AwsClientResource):
    """One load balancer's listener and target groups."""

    def load_balancer(self, name: str) -> dict[str, Any]:
        return self.call("elbv2", "describe_load_balancers", f"load balancer {name!r}", Names=[name])["LoadBalancers"][
            0
        ]

    def listener(self, load_balancer: dict[str, Any], port: int) -> dict[str, Any]:
        name = load_balancer["LoadBalancerName"]
        listeners = self.call(
            "elbv2",
            "describe_listeners",
            f"listeners of load balancer {name!r}",
            LoadBalancerArn=load_balancer["LoadBalancerArn"],
        )["Listeners"]
        for listener in listeners:
            if listener["Port"] == port:
                return listener
        ports = sorted(listener["Port"] for listener in listeners)
        raise AwsError(f"load balancer {name!r} has no listener on port {port} (listeners on {ports})")

    def target_groups(self, names: list[str]) -> dict[str, dict[str, Any]]:
        groups = self.call("elbv2", "describe_target_groups", f"target groups {names}", Names=names)["TargetGroups"]
        return {group["TargetGroupName"]: group for group in groups}

    def set_weights(self, listener_arn: str, weights: dict[str, int]) -> None:
        """Forward by ``{target group ARN: weight}`` on the listener's default action."""
        action = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
        self.call(
            "elbv2", "modify_listener", f"listener {listener_arn}", ListenerArn=listener_arn, DefaultActions=[action]
        )

    def weights(self, listener_arn: str) -> dict[str, int]:
        """``{target group ARN: weight}`` as the listener applies it now."""
        listeners = self.call("elbv2", "describe_listeners", f"listener {listener_arn}", ListenerArns=[listener_arn])[
            "Listeners"
        ]
        weights: dict[str, int] = {}
        for action in listeners[0].get("DefaultActions", []):
            if action.get("Type") != "forward":
                continue
            groups = action.get("ForwardConfig", {}).get("TargetGroups")
            if groups:
                for group in groups:
                    weights[group["TargetGroupArn"]] = weights.get(group["TargetGroupArn"], 0) + group.get("Weight", 1)
            elif action.get("TargetGroupArn"):
                weights[action["TargetGroupArn"]] = weights.get(action["TargetGroupArn"], 0) + 1
        return weights

    def target_health(self, target_group: dict[str, Any]) -> dict[str, int]:
        """Count of targets by health state (healthy, initial, unhealthy, draining, ...)."""
        answer = self.call(
            "elbv2",
            "describe_target_health",
            f"target group {target_group['TargetGroupName']!r}",
            TargetGroupArn=target_group["TargetGroupArn"],
        )
        counts: dict[str, int] = {}
        for description in answer["TargetHealthDescriptions"]:
            state = description["TargetHealth"]["State"]
            counts[state] = counts.get(state, 0) + 1
        return counts

    def wait_healthy(
        self, target_group: dict[str, Any], count: int, *, timeout: float, interval: float, sleep=time.sleep
    ) -> None:
        """Wait until ``count`` targets are healthy: ECS steady state does not mean the ALB routes to them."""
        done, states = poll(
            lambda: self.target_health(target_group),
            lambda states: states.get("healthy", 0) >= count,
            timeout=timeout,
            interval=interval,
            sleep=sleep,
        )
        if not done:
            raise AwsError(
                f"target group {target_group['TargetGroupName']!r}: {states.get('healthy', 0)} of {count} targets "
                f"healthy after {timeout:g} s (states {states or 'none registered'}; health check "
                f"{target_group.get('HealthCheckPath', '?')})"
            )
