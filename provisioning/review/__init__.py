"""Review and refine: alert rules backtested over the platform's own history (`tracklog review`)."""

from provisioning.review.alerts import AlertsReview, RuleReview, Sources, review
from provisioning.review.backtest import Firing, backtest
from provisioning.review.rules import ReviewRule
from provisioning.review.suggest import Budget, Incident, ReviewError, Suggestion

__all__ = ["AlertsReview", "Budget", "Firing", "Incident", "ReviewError", "ReviewRule", "RuleReview", "Sources",
           "Suggestion", "backtest", "review"]
