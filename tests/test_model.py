import pytest
import torch
from torch import nn

from mlp_exp.config import Activation
from mlp_exp.model import ACTIVATIONS, MLP, cross_entropy
from mlp_exp.optim import SGD, Adam


def test_d2l_parameters_are_explicit_tensors_with_d2l_names_and_shapes():
    torch.manual_seed(0)
    net = MLP(784, [256], 10, Activation.relu, init_scale=0.01)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes == {"W1": (784, 256), "b1": (256,), "W2": (256, 10), "b2": (10,)}
    assert not any(isinstance(m, nn.Linear) for m in net.modules())
    assert torch.all(net.b1 == 0) and torch.all(net.b2 == 0)
    assert net.W1.std().item() == pytest.approx(0.01, rel=0.05)


def test_a_list_of_widths_builds_a_deeper_net():
    net = MLP(784, [512, 256, 128], 10, Activation.relu, init_scale=0.01)
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters() if name.startswith("W")}
    assert shapes == {"W1": (784, 512), "W2": (512, 256), "W3": (256, 128), "W4": (128, 10)}


def test_forward_flattens_images_and_returns_logits():
    net = MLP(784, [32], 10, Activation.relu, init_scale=0.01)
    assert net(torch.rand(5, 28, 28)).shape == (5, 10)
    assert net(torch.rand(7, 784)).shape == (7, 10)


def test_forward_is_X_at_W_plus_b():
    net = MLP(4, [3], 2, Activation.relu, init_scale=1.0)
    X = torch.randn(6, 4)
    expected = torch.relu(X @ net.W1 + net.b1) @ net.W2 + net.b2
    torch.testing.assert_close(net(X), expected)


@pytest.mark.parametrize(
    "make_optimizer", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4), lambda ps: Adam(ps, lr=1e-3)]
)
def test_the_output_layer_stays_column_major_through_training_steps(make_optimizer):
    """Its fast layout (see MLP's docstring) must survive autograd and the optimizer, or every step after the
    first pays the slow one."""
    net = MLP(784, [64, 32], 10, Activation.relu, init_scale=0.01)
    optimizer = make_optimizer(list(net.parameters()))
    column_major = (1, 32)
    assert net.W3.stride() == column_major and net.W1.is_contiguous() and net.W2.is_contiguous()
    for _ in range(2):
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(torch.rand(8, 784)), torch.arange(8)).backward()
        optimizer.step()
    assert net.W3.grad.stride() == column_major and net.W3.stride() == column_major
    W3_index = [name for name, _ in net.named_parameters()].index("W3")
    W3_slots = [slots[W3_index] for slots in optimizer.state.values()]
    assert W3_slots and all(slot.stride() == column_major for slot in W3_slots)


REFERENCE = {
    Activation.relu: torch.relu,
    Activation.sigmoid: torch.sigmoid,
    Activation.tanh: torch.tanh,
    Activation.gelu: nn.functional.gelu,
    Activation.leaky_relu: nn.functional.leaky_relu,
}


def test_every_activation_has_a_hand_written_formula():
    assert set(ACTIVATIONS) == set(Activation) == set(REFERENCE)


@pytest.mark.parametrize("activation", list(Activation), ids=lambda a: a.name)
def test_activations_and_their_gradients_match_torch_and_stay_finite_at_extremes(activation):
    X = torch.cat([torch.linspace(-10, 10, 101), torch.tensor([-1e4, -100.0, 100.0, 1e4])]).requires_grad_()
    X_ref = X.detach().clone().requires_grad_()
    Y = ACTIVATIONS[activation](X)
    Y_ref = REFERENCE[activation](X_ref)
    torch.testing.assert_close(Y, Y_ref, atol=1e-6, rtol=1e-5)
    Y.sum().backward()
    Y_ref.sum().backward()
    assert torch.isfinite(X.grad).all()
    kink = X.detach() == 0  # where relu and leaky_relu have no derivative, any subgradient will do
    torch.testing.assert_close(X.grad[~kink], X_ref.grad[~kink], atol=1e-6, rtol=1e-5)


def test_cross_entropy_and_its_gradient_are_torchs():
    y_hat = (torch.randn(300, 10, generator=torch.Generator().manual_seed(0)) * 20).requires_grad_()
    y_hat_ref = y_hat.detach().clone().requires_grad_()
    y = torch.arange(300) % 10
    l, l_ref = cross_entropy(y_hat, y), nn.CrossEntropyLoss()(y_hat_ref, y)
    torch.testing.assert_close(l, l_ref)
    l.backward()
    l_ref.backward()
    torch.testing.assert_close(y_hat.grad, y_hat_ref.grad)
