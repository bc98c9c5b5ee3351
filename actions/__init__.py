"""Kubernetes remediation: one module per verb (scale, rollback, restart, diagnose), the
actuator ``KubeCluster`` over kubernetes_asyncio that implements ``bot.ports.Cluster``, and a
registry from verb to implementation."""
