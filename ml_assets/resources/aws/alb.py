"""The Application Load Balancer: weighted forwarding between the blue and green target groups.

Clients reach the model servers through one listener rule (``SCORING_RULE_PRIORITY``: ``POST /predict`` and
``POST /invocations``); every other path gets the listener's fixed 404. Releases move that rule's weights."""

from __future__ import annotations

import time
from typing import Any

from ml_assets.resources.aws.session import AwsClientResource, AwsError, poll


def metric_dimension(arn: str, marker: str) -> str:
    """CloudWatch's dimension value for a load balancer or target group ARN ('app/...', 'targetgroup/...')."""
    return arn.split(":")[-1].removeprefix(marker)


# The listener rule that forwards scoring requests by weight; terraform/modules/serving gives it this priority
# (a test keeps the two identical).
SCORING_RULE_PRIORITY = "100"


class AlbResource(AwsClientResource):
    """One load balancer's listener, its scoring rule and target groups."""

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

    def scoring_rule(self, listener_arn: str) -> str:
        """The ARN of the listener's scoring rule (priority ``SCORING_RULE_PRIORITY``)."""
        rules = self.call("elbv2", "describe_rules", f"rules of listener {listener_arn}", ListenerArn=listener_arn)
        for rule in rules["Rules"]:
            if rule.get("Priority") == SCORING_RULE_PRIORITY:
                return rule["RuleArn"]
        priorities = sorted(rule.get("Priority", "?") for rule in rules["Rules"])
        raise AwsError(
            f"listener {listener_arn} has no scoring rule at priority {SCORING_RULE_PRIORITY} (rules at "
            f"{priorities}): apply terraform/modules/serving"
        )

    def set_weights(self, rule_arn: str, weights: dict[str, int]) -> None:
        """Forward by ``{target group ARN: weight}`` on the scoring rule."""
        action = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
        self.call("elbv2", "modify_rule", f"listener rule {rule_arn}", RuleArn=rule_arn, Actions=[action])

    def weights(self, rule_arn: str) -> dict[str, int]:
        """``{target group ARN: weight}`` as the scoring rule applies it now."""
        rules = self.call("elbv2", "describe_rules", f"listener rule {rule_arn}", RuleArns=[rule_arn])["Rules"]
        weights: dict[str, int] = {}
        for action in rules[0].get("Actions", []):
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
