"""What every Mingdeng service needs to run: typed settings, migrations, topics, health."""

from mingdeng.runtime import kafka_records

kafka_records.install()  # before any consumer fetches: see kafka_records
