"""What every Mingdeng service needs to run: typed settings, migrations, topics, health."""
