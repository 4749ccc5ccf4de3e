"""Reference: one DAG, one @task, nothing else."""

import datetime

from airflow.sdk import DAG, task

with DAG("bench_minimal", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:

    @task
    def noop():
        return None

    noop()
