"""recsys_core: a BERT-feature recommender you can train, evaluate, save and explain.

The same functions serve a notebook, the CLI (``python -m recsys_core``) and
the Streamlit dashboard; nothing here imports Streamlit.

    from recsys_core import load_dataset, fit, save, load
    data = load_dataset("interactions.csv", "items.csv", users="users.csv")
    rec = fit(data)
    rec.recommend("u0001", k=10)
"""
from .artifacts import load, save
from .encoder import DEFAULT_ENCODER, POOLINGS, EncoderConfig, TextEncoder
from .errors import ArtifactError, DataValidationError, RecsysError, UnknownEntityError
from .evaluation import MODEL_NAME, EvaluationReport
from .exports import to_csv_bytes
from .loading import LoadOptions, describe_fields, load_dataset, load_interactions, read_table
from .metrics import METRIC_NAMES
from .parallel import Engine
from .pipeline import FIT_STAGES, FitOptions, HistoryWindow, data_fingerprint, fit, history_window, rating_mode
from .progress import Cancelled, Checkpoint, Progress
from .recommender import Recommendation, Recommender, UserContext
from .schema import ITEM, TIMESTAMP, USER, ColumnMap, Dataset, Notice
from .splits import SPLITS, SplitConfig
from .text import FieldText, build_field_text
from .training import LOSSES, EpochLog, TrainConfig, TrainingRecord, budget_advice

__all__ = [
    "DEFAULT_ENCODER",
    "FIT_STAGES",
    "ITEM",
    "LOSSES",
    "METRIC_NAMES",
    "MODEL_NAME",
    "POOLINGS",
    "SPLITS",
    "TIMESTAMP",
    "USER",
    "ArtifactError",
    "Cancelled",
    "Checkpoint",
    "ColumnMap",
    "DataValidationError",
    "Dataset",
    "EncoderConfig",
    "Engine",
    "EpochLog",
    "EvaluationReport",
    "FieldText",
    "FitOptions",
    "HistoryWindow",
    "LoadOptions",
    "Notice",
    "Progress",
    "Recommendation",
    "Recommender",
    "RecsysError",
    "SplitConfig",
    "TextEncoder",
    "TrainConfig",
    "TrainingRecord",
    "UnknownEntityError",
    "UserContext",
    "build_field_text",
    "data_fingerprint",
    "describe_fields",
    "fit",
    "budget_advice",
    "history_window",
    "load",
    "load_dataset",
    "load_interactions",
    "rating_mode",
    "read_table",
    "save",
    "to_csv_bytes",
]
