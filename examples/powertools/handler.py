"""DynamoDB Streams -> AppSync, observed with Powertools for AWS Lambda: Logger, Metrics and Tracer.

- **Logger**: Powertools' JSON logger; ``copy_config_to_registered_loggers`` gives the ``streambridge``
  logger the same handler and formatter, so streambridge's summary line of each invocation is a JSON log
  line too, with the counters under its ``streambridge`` key and Powertools' keys (service, cold start,
  request id) beside them.
- **Metrics**: streambridge's own counters go out as one CloudWatch EMF line per invocation
  (``Bridge(metrics=True)``, namespace ``streambridge``); the business metrics of this function go through
  Powertools ``Metrics`` (your namespace), from the ``InvocationResult``.
- **Tracer**: ``capture_lambda_handler`` opens the ``## handler`` subsegment; streambridge adds one
  ``streambridge request`` subsegment per request to AppSync under it (mutation count and outcome as
  annotations), because the X-Ray SDK is installed and Lambda traces the invocation.

``lambda_handler`` is the Lambda entry point (``Handler: handler.lambda_handler``); ``handler`` is the
streambridge handler it runs, for unit tests and ``streambridge invoke``.

Configuration comes from the environment: STREAMBRIDGE_APPSYNC_URL, POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE; the Lambda role's credentials sign the requests (IAM).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from streambridge import Bridge, DynamoDBRecord

__all__ = ["PUBLISH", "bridge", "handler", "lambda_handler", "logger", "metrics", "tracer"]

PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"

logger = Logger()
metrics = Metrics()
tracer = Tracer()
# streambridge logs with the "streambridge" logger (created when streambridge is imported, above): route
# it through Powertools' handler and JSON formatter.
copy_config_to_registered_loggers(source_logger=logger, include={"streambridge"})

bridge = Bridge(metrics=True)  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth: no I/O here


@bridge.dynamodb(PUBLISH)
def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
    """One order change -> ``publishOrder``; a deleted order is not published."""
    if record.event_name == "REMOVE":
        return None
    return {"input": record.new_image}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda entry point: publish, count what matters to the business, answer batchItemFailures."""
    result = handler.process(event, context)
    metrics.add_metric(name="OrdersPublished", unit=MetricUnit.Count, value=result.published)
    metrics.add_metric(name="OrdersNotPublished", unit=MetricUnit.Count, value=result.failed)
    tracer.put_annotation("orders_not_published", result.failed)
    return dict(handler.answer(result))
