"""Names the training assets, their checks and the definitions share."""

MODEL_SUFFIX = "_model"


def model_asset_name(algorithm: str) -> str:
    """The asset of the model trained with the config's ``algorithm`` entry."""
    return f"{algorithm}{MODEL_SUFFIX}"
