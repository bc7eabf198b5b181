"""BlackScholes_Jacobian: a European call's price and its first-order Greeks.

Black and Scholes (1973) for a non-dividend stock:

    d1 = (ln(S/K) + (r + sigma²/2) T) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T)
    C  = S N(d1) - K exp(-rT) N(d2)

and the closed-form Greeks (Hull, *Options, Futures, and Other Derivatives*):
delta = N(d1), vega = S phi(d1) sqrt(T), rho = K T exp(-rT) N(d2) and
theta = -S phi(d1) sigma / (2 sqrt(T)) - r K exp(-rT) N(d2), the price's rate of
change as calendar time passes (so theta = -dC/dT). ``N`` is written with ``erf``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax.scipy.special import erf

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _normal_cdf(x):
    return 0.5 * (1.0 + erf(x * _INV_SQRT2))


def black_scholes(price, strike, rate, volatility, time):
    """Price of a European call and its Greeks, in scalar arithmetic.

    Args:
      price: the underlying's spot price S (scalar, > 0).
      strike: the strike K (> 0).
      rate: the risk-free rate r (continuously compounded).
      volatility: sigma (> 0).
      time: time to maturity T in years (> 0).

    Returns:
      ``(call price, delta, vega, theta, rho)``, a tuple of scalars.
    """
    sqrt_t = jnp.sqrt(time)
    sig_sqrt_t = volatility * sqrt_t
    d1 = (jnp.log(price / strike) + (rate + 0.5 * volatility * volatility) * time) / (
        sig_sqrt_t
    )
    d2 = d1 - sig_sqrt_t
    n_d1 = _normal_cdf(d1)
    n_d2 = _normal_cdf(d2)
    pdf_d1 = jnp.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
    k_disc = strike * jnp.exp(-rate * time)
    k_disc_n_d2 = k_disc * n_d2
    call = price * n_d1 - k_disc_n_d2
    delta = n_d1
    s_pdf = price * pdf_d1
    vega = s_pdf * sqrt_t
    theta = -(s_pdf * volatility) / (2.0 * sqrt_t) - rate * k_disc_n_d2
    rho = time * k_disc_n_d2
    return call, delta, vega, theta, rho
