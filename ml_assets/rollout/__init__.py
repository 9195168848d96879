"""The release engine: analysis (statistics), strategies and the rollout state machine, free of any backend."""
