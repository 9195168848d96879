"""Names the training assets, their checks and the definitions share."""


def model_asset_name(algorithm: str) -> str:
    """The asset of the model trained with the config's ``algorithm`` entry."""
    return f"{algorithm}_model"
