"""The building's physics: a grey-box RC model of the indoor air and the envelope, its exact
discretisation, and an air-source heat pump whose COP follows the outdoor temperature.

Model (Bacher & Madsen 2011's ``TiTe`` structure with a direct air-to-outdoor path, 3R2C).
Temperatures in deg C, time in hours, heat flows in kW, capacities in kWh/K, resistances in
K/kW, irradiance in kW/m2::

    C_i dT_i/dt = (T_e - T_i) / R_ie + (T_a - T_i) / R_ia + A_w Phi_s + Phi_h + Phi_int
    C_e dT_e/dt = (T_i - T_e) / R_ie + (T_a - T_e) / R_ea + A_e Phi_s

``T_i`` indoor air (with the furniture it warms quickly), ``T_e`` the building envelope (walls,
floor, roof: the mass), ``T_a`` outdoor air, ``Phi_s`` global irradiance, ``Phi_h`` the heat
pump's heat (negative when cooling), ``Phi_int`` the occupants' and appliances' gains.

Discretisation. With ``x = (T_i, T_e)`` and ``u = (T_a, Phi_s, Phi_h + Phi_int)`` held over a
step of ``dt`` hours, ``dx/dt = A x + B u`` is solved exactly (zero-order hold):
``x' = Ad x + Bd u`` with ``Ad = expm(A dt)`` and ``Bd = A^-1 (Ad - I) B``. ``A`` is a 2x2 RC
matrix with two distinct negative eigenvalues, so ``expm`` has Putzer's closed form
``expm(A t) = e^(l1 t) I + (e^(l1 t) - e^(l2 t)) / (l1 - l2) (A - l1 I)``. The same solution
integrates exactly to ``int_0^dt x dt = P x + Q u`` (``P = A^-1 (Ad - I)``,
``Q = A^-1 (P - dt I) B``), from which each step's heat loss to the outdoor air is reported.

Defaults (:class:`BuildingParams`), with their sources:

- ``C_i = 0.0928``, ``C_e = 3.32`` kWh/K, ``R_ie = 0.897``, ``R_ea = 4.38``, ``R_ia = 2.5`` K/kW,
  ``A_w = 5.75``, ``A_e = 3.87`` m2: the maximum-likelihood estimates of Bacher & Madsen,
  "Identifying suitable models for the heat dynamics of buildings", Energy and Buildings 43
  (2011) 1511-1522, Table 3 (model ``TiTeThTsAeRia``, fitted to a 120 m2 single-storey test
  building in Denmark heated by electric radiators). The radiator (``T_h``) and sensor
  (``T_s``) states of that model are left out here: the heat pump's heat reaches the air
  directly, and the air temperature is observed without a sensor lag.
- Heating COP: the air-source regression of Ruhnau, Hirth & Praktiknjo, "Time series of heat
  demand and heat pump efficiency for energy system modeling", Scientific Data 6:189 (2019),
  ``COP = 6.08 - 0.09 dT + 0.0005 dT^2`` over the lift ``dT = T_sink - T_a`` (at least 15 K),
  with their floor-heating sink ``T_sink = 30 - 0.5 T_a`` deg C and their correction factor
  0.85 for field performance.
- Cooling EER: the same cycle run backwards, ``0.85 (COP(dT) - 1)`` with ``dT = T_a - 18`` deg C
  (a chilled floor at 18 deg C; at least 15 K). A reversible cycle that lifts heat over the
  same ``dT`` rejects ``COP`` units of heat per unit of work, of which ``COP - 1`` come from the
  cold side. This is our derivation, not a published fit.
- Capacity: 20 kW of heat and 10 kW of cooling, sized so that the building holds 20 deg C at
  -14 deg C outdoors (``UA = 1/R_ia + 1/(R_ie + R_ea) = 0.589`` kW/K, ``0.589 * 34 = 20``) and
  26 deg C in the hot climate's summer afternoons with full sun. Our sizing, not a product's.
- Internal gains: 0.5 kW at full occupancy (about 4 W/m2 over 120 m2, the order of the
  residential values in EN 16798-1 / ISO 17772-1). Our choice.

Every figure can be overridden: ``BuildingParams(heat_max_kw=12.0)``, or a dict of fields
where the env takes ``params``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

STEP_HOURS_DEFAULT = 0.25


@dataclasses.dataclass(frozen=True)
class BuildingParams:
    """The building and its heat pump; the module docstring gives each default's source."""

    c_air_kwh_k: float = 0.0928
    """``C_i``: heat capacity of the indoor air and what warms with it, kWh/K."""
    c_envelope_kwh_k: float = 3.32
    """``C_e``: heat capacity of the envelope (the building's mass), kWh/K."""
    r_air_envelope_k_kw: float = 0.897
    """``R_ie``: resistance between the indoor air and the envelope, K/kW."""
    r_envelope_out_k_kw: float = 4.38
    """``R_ea``: resistance between the envelope and the outdoor air, K/kW."""
    r_air_out_k_kw: float = 2.5
    """``R_ia``: direct resistance between indoor and outdoor air (windows, ventilation), K/kW."""
    window_area_m2: float = 5.75
    """``A_w``: effective window area, the sun's heat into the air per kW/m2 of irradiance."""
    envelope_solar_area_m2: float = 3.87
    """``A_e``: effective area of the sun's heat into the envelope."""
    internal_gain_kw: float = 0.5
    """Heat from occupants and appliances at full occupancy (scaled by the occupancy), kW."""
    heat_max_kw: float = 24.0
    """The heat pump's largest heat output, kW (thermal)."""
    cool_max_kw: float = 15.0
    """The heat pump's largest cooling output, kW (thermal)."""
    cop_coefficients: tuple[float, float, float] = (6.08, -0.09, 0.0005)
    """``(a, b, c)`` of ``COP = a + b dT + c dT^2`` over the temperature lift ``dT``."""
    cop_correction: float = 0.85
    """Field-performance factor applied to the regression (heating and cooling)."""
    min_lift_k: float = 15.0
    """The lift is taken as at least this (the regression's range starts there), K."""
    heating_sink_c: tuple[float, float] = (30.0, -0.5)
    """``(c0, c1)``: the heating supply temperature is ``c0 + c1 T_a`` (floor heating)."""
    cooling_sink_c: float = 18.0
    """Supply temperature of the cooling (a chilled floor), deg C."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            values = v if isinstance(v, (tuple, list)) else (v,)
            ok = (isinstance(x, (int, float)) and not isinstance(x, bool) for x in values)
            if not all(ok) or not all(math.isfinite(x) for x in values):
                raise ValueError(f"BuildingParams.{f.name} must be finite numbers, got {v!r}")
            # floats throughout, so that every step's figures are floats (an int capacity
            # would otherwise make a saturated step's heat an int)
            fixed = tuple(float(x) for x in v) if isinstance(v, (tuple, list)) else float(v)
            object.__setattr__(self, f.name, fixed)
        positive = (
            "c_air_kwh_k",
            "c_envelope_kwh_k",
            "r_air_envelope_k_kw",
            "r_envelope_out_k_kw",
            "r_air_out_k_kw",
            "cop_correction",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"BuildingParams.{name} must be > 0, got {getattr(self, name)}")
        for name in ("window_area_m2", "envelope_solar_area_m2", "internal_gain_kw"):
            if getattr(self, name) < 0:
                raise ValueError(f"BuildingParams.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("heat_max_kw", "cool_max_kw", "min_lift_k"):
            if getattr(self, name) < 0:
                raise ValueError(f"BuildingParams.{name} must be >= 0, got {getattr(self, name)}")
        if len(self.cop_coefficients) != 3 or len(self.heating_sink_c) != 2:
            raise ValueError("cop_coefficients needs (a, b, c) and heating_sink_c (c0, c1)")

    @property
    def ua_kw_k(self) -> float:
        """Steady-state heat loss per kelvin between indoor and outdoor air, kW/K."""
        return 1.0 / self.r_air_out_k_kw + 1.0 / (
            self.r_air_envelope_k_kw + self.r_envelope_out_k_kw
        )

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """``A`` (2x2, 1/h) and ``B`` (2x3) of ``dx/dt = A x + B u``, ``x = (T_i, T_e)``,
        ``u = (T_a, Phi_s, Phi)`` (``Phi``: heat into the air, kW)."""
        ci, ce = self.c_air_kwh_k, self.c_envelope_kwh_k
        gie = 1.0 / self.r_air_envelope_k_kw
        gea = 1.0 / self.r_envelope_out_k_kw
        gia = 1.0 / self.r_air_out_k_kw
        a = np.array([[-(gie + gia) / ci, gie / ci], [gie / ce, -(gie + gea) / ce]])
        b = np.array(
            [
                [gia / ci, self.window_area_m2 / ci, 1.0 / ci],
                [gea / ce, self.envelope_solar_area_m2 / ce, 0.0],
            ]
        )
        return a, b


def params_from(params: BuildingParams | dict | None) -> BuildingParams:
    """``params`` as :class:`BuildingParams`: None for the defaults, or a dict of overrides."""
    if params is None:
        return BuildingParams()
    if isinstance(params, BuildingParams):
        return params
    if isinstance(params, dict):
        known = {f.name for f in dataclasses.fields(BuildingParams)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(
                f"unknown building parameter(s) {', '.join(unknown)}: choose from "
                f"{', '.join(sorted(known))}"
            )
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        return BuildingParams(**fixed)
    raise TypeError(f"params must be a BuildingParams, a dict or None, got {type(params)}")


def eigenvalues(a: np.ndarray) -> tuple[float, float]:
    """The two eigenvalues of a 2x2 RC matrix, slow (closest to 0) first; both real, negative
    and distinct (the discriminant is ``(a11 - a22)^2 + 4 a12 a21 > 0``)."""
    tr = a[0, 0] + a[1, 1]
    det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    disc = math.sqrt((a[0, 0] - a[1, 1]) ** 2 + 4.0 * a[0, 1] * a[1, 0])
    fast = (tr - disc) / 2.0
    return det / fast, fast  # slow = det / fast: no cancellation in tr + disc


def time_constants_h(params: BuildingParams) -> tuple[float, float]:
    """The slow and fast time constants ``-1 / lambda``, hours. With the heat pump off and the
    weather constant, ``T_i - T_a`` decays as a sum of the two exponentials; after a few fast
    ones, at the slow one."""
    slow, fast = eigenvalues(params.matrices()[0])
    return -1.0 / slow, -1.0 / fast


@dataclasses.dataclass(frozen=True)
class Discretisation:
    """The exact one-step maps of a building at a step of ``dt`` hours:
    ``x' = ad @ x + bd @ u`` and ``int x dt = p @ x + q @ u`` (see the module docstring)."""

    ad: np.ndarray  # (2, 2)
    bd: np.ndarray  # (2, 3)
    p: np.ndarray  # (2, 2)
    q: np.ndarray  # (2, 3)
    dt: float


def discretise(params: BuildingParams, dt: float = STEP_HOURS_DEFAULT) -> Discretisation:
    """The exact zero-order-hold discretisation of the building at a step of ``dt`` hours."""
    a, b = params.matrices()
    l1, l2 = eigenvalues(a)
    e1, e2 = math.exp(l1 * dt), math.exp(l2 * dt)
    eye = np.eye(2)
    ad = e1 * eye + (e1 - e2) / (l1 - l2) * (a - l1 * eye)
    a_inv = np.linalg.inv(a)
    p = a_inv @ (ad - eye)
    return Discretisation(ad=ad, bd=p @ b, p=p, q=a_inv @ (p - dt * eye) @ b, dt=dt)


def heating_cop(params: BuildingParams, outdoor_c):
    """Heat delivered per unit of electricity when heating, at outdoor ``outdoor_c`` deg C
    (a float or an array)."""
    c0, c1 = params.heating_sink_c
    lift = np.maximum(c0 + c1 * outdoor_c - outdoor_c, params.min_lift_k)
    a, b, c = params.cop_coefficients
    return params.cop_correction * (a + b * lift + c * lift * lift)


def cooling_eer(params: BuildingParams, outdoor_c):
    """Heat removed per unit of electricity when cooling, at outdoor ``outdoor_c`` deg C."""
    lift = np.maximum(outdoor_c - params.cooling_sink_c, params.min_lift_k)
    a, b, c = params.cop_coefficients
    return params.cop_correction * (a + b * lift + c * lift * lift - 1.0)


def check_efficiencies(params: BuildingParams, outdoor_min: float, outdoor_max: float) -> None:
    """``ValueError`` unless the COP and EER stay above 1 (resp. 0.5) over the outdoor range:
    a user's coefficients or a CSV's temperatures outside the regression's reach would
    otherwise give nonsense (or negative) electricity."""
    grid = np.linspace(outdoor_min, outdoor_max, 64)
    cop, eer = heating_cop(params, grid), cooling_eer(params, grid)
    if cop.min() < 1.0 or eer.min() < 0.5:
        raise ValueError(
            f"heat pump efficiency out of range over outdoor {outdoor_min:.1f}..{outdoor_max:.1f} "
            f"deg C: COP down to {cop.min():.2f} (must stay >= 1), EER down to {eer.min():.2f} "
            "(must stay >= 0.5); check cop_coefficients, heating_sink_c and the weather"
        )
