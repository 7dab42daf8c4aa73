"""
One router across nodes (API §10): what joins the nodes' routers into one, on the engines the cluster
already runs on, PostgreSQL (who has callees for what) and RabbitMQ (the calls themselves,
:mod:`wampchat.amqp.calls`).
"""
