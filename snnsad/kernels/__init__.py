"""Neural tangent kernels of surrogate gradient learning: analytic (infinite width) and empirical, and kernel regression.

The NNGP kernel, the ordinary NTK and the SG-NTK of Eilers, Memmesheimer & Goedeke (NeurIPS 2024)
for fully connected networks in the NTK parametrisation with `erf(m x)` or `sign` activations and
any `snnsad.escape` function's pdf as surrogate derivative.

```python
from snnsad import kernels
k = kernels.analytic_kernels(x, x, depth=2, activation=kernels.SignActivation(),
                             surrogate=kernels.SurrogateDerivative(snnsad.Erf(0.2)))
k.sg_ntk  # asymmetric; k.ntk is None: the ordinary NTK of sign is ill-posed
```
"""

from ._kernels import ErfActivation as ErfActivation
from ._kernels import Kernels as Kernels
from ._kernels import Prediction as Prediction
from ._kernels import SignActivation as SignActivation
from ._kernels import SurrogateDerivative as SurrogateDerivative
from ._kernels import analytic_kernels as analytic_kernels
from ._kernels import delta_expectation as delta_expectation
from ._kernels import empirical_kernels as empirical_kernels
from ._kernels import erf_erf as erf_erf
from ._kernels import gauss_gauss as gauss_gauss
from ._kernels import gaussian_expectation as gaussian_expectation
from ._kernels import gaussian_mean as gaussian_mean
from ._kernels import gaussian_psi_psi as gaussian_psi_psi
from ._kernels import init_mlp as init_mlp
from ._kernels import kernel_regression as kernel_regression
from ._kernels import mlp_apply as mlp_apply
from ._kernels import sign_sign as sign_sign


def __getattr__(name: str):
    # `kernels.Surrogate` was renamed: `snnsad.Surrogate` is the spike function, a different thing.
    if name == "Surrogate":
        import warnings

        warnings.warn(
            "snnsad.kernels.Surrogate was renamed snnsad.kernels.SurrogateDerivative (snnsad.Surrogate is the "
            "surrogate-gradient spike function, a different thing); the old name will be removed.",
            DeprecationWarning,
            stacklevel=2,
        )
        return SurrogateDerivative
    raise AttributeError(f"module 'snnsad.kernels' has no attribute {name!r}")
