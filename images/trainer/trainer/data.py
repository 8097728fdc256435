"""The example datasets: bundled with scikit-learn, split the same way by every step."""

from sklearn import datasets
from sklearn.model_selection import train_test_split

LOADERS = {
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "iris": datasets.load_iris,
}


def load_split(name="wine", test_size=0.25, seed=42):
    """``(X_train, X_test, y_train, y_test, feature_names)``, a stratified, seeded split."""
    if name not in LOADERS:
        raise ValueError("unknown dataset %r (choose from %s)" % (name, ", ".join(sorted(LOADERS))))
    bunch = LOADERS[name](as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=test_size, random_state=seed, stratify=bunch.target)
    return X_train, X_test, y_train, y_test, list(bunch.feature_names)
