"""Creates, idempotently, the local stand-ins for what template.yaml deploys: the data bucket
DMS writes to, the lake bucket (state, curated data, Athena results), the registrar's queue and
dead-letter queue with the bucket notification, the alert topic with a queue subscribed to it
(so alerts can be read locally), the Glue databases and the Athena workgroup.

Reads the names from scripts/local.env; talks only to the local emulator (AWS_ENDPOINT_URL)
and, for the workgroup, the local Athena (AWS_ENDPOINT_URL_ATHENA)."""

import json
import os
import pathlib
import sys

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_env():
    env = {}
    for line in (ROOT / "scripts" / "local.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            # A value holding '=' is single-quoted (the env-file syntax of `cargo lambda watch`).
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            env[key] = value
    return env


def moto_endpoint(env):
    """AWS_ENDPOINT_URL, else the emulator on MOTO_PORT, else local.env's endpoint."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    if os.environ.get("MOTO_PORT"):
        return f"http://127.0.0.1:{os.environ['MOTO_PORT']}"
    return env["AWS_ENDPOINT_URL"]


def athena_endpoint(env):
    """The local Athena (tools/athena-local): AWS_ENDPOINT_URL_ATHENA, else its port
    ATHENA_LOCAL_PORT on 127.0.0.1, else scripts/local.env's."""
    if os.environ.get("AWS_ENDPOINT_URL_ATHENA"):
        return os.environ["AWS_ENDPOINT_URL_ATHENA"]
    if os.environ.get("ATHENA_LOCAL_PORT"):
        return f"http://127.0.0.1:{os.environ['ATHENA_LOCAL_PORT']}"
    return env["AWS_ENDPOINT_URL_ATHENA"]


def main():
    env = load_env()
    endpoint = moto_endpoint(env)
    kw = dict(
        endpoint_url=endpoint,
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3, sqs, sns, glue = (boto3.client(n, **kw) for n in ("s3", "sqs", "sns", "glue"))
    athena = boto3.client("athena", **{**kw, "endpoint_url": athena_endpoint(env)})

    data_bucket = env["DMSLAKE_DATA_BUCKET"]
    lake_bucket = env["DMSLAKE_STATE_BUCKET"]
    for bucket in (data_bucket, lake_bucket):
        s3.create_bucket(Bucket=bucket)  # idempotent in us-east-1

    dlq_url = sqs.create_queue(QueueName="dmslake-local-registrar-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName="dmslake-local-registrar",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    prefix = env.get("DMSLAKE_BUCKET_FOLDER", "").strip("/")
    s3.put_bucket_notification_configuration(
        Bucket=data_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix + "/" if prefix else ""}]}},
                }
            ]
        },
    )

    topic_name = env["DMSLAKE_ALERT_TOPIC_ARN"].rsplit(":", 1)[1]
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    alerts_url = sqs.create_queue(QueueName="dmslake-local-alerts")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_arn)

    for db in (env["DMSLAKE_RAW_DATABASE"], env["DMSLAKE_CURATED_DATABASE"]):
        try:
            glue.create_database(DatabaseInput={"Name": db})
        except glue.exceptions.AlreadyExistsException:
            pass

    workgroup = env["DMSLAKE_ATHENA_WORKGROUP"]
    names = [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    if workgroup not in names:
        athena.create_work_group(
            Name=workgroup,
            Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{lake_bucket}/athena-results/"}},
        )

    json.dump(
        {"data_bucket": data_bucket, "lake_bucket": lake_bucket, "registrar_queue": queue_url,
         "registrar_dlq": dlq_url, "alert_topic": topic_arn, "alerts_queue": alerts_url},
        sys.stdout,
        indent=2,
    )
    print()


if __name__ == "__main__":
    main()
