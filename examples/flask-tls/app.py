"""A small customer-record REST service over TLS.

It knows nothing about attestation: it reads its certificate and key from /etc/flask.crt and
/etc/flask.key, which initra's init placed there after the secret server verified this workload.
"""

import os
import ssl

from flask import Flask, jsonify, request

app = Flask(__name__)
customers = {}


@app.put("/customer/<cid>")
def put_customer(cid):
    value = request.form.get("data")
    if value is None:
        return jsonify({"error": "form field 'data' is required"}), 400
    customers[cid] = value
    return jsonify({cid: value})


@app.get("/customer/<cid>")
def get_customer(cid):
    if cid not in customers:
        return jsonify({"error": f"no customer {cid}"}), 404
    return jsonify({cid: customers[cid]})


def main():
    cert = os.environ.get("FLASK_CERT", "/etc/flask.crt")
    key = os.environ.get("FLASK_KEY", "/etc/flask.key")
    port = int(os.environ.get("FLASK_PORT", "4996"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    app.run(host="127.0.0.1", port=port, ssl_context=context)


if __name__ == "__main__":
    main()
