using RsMoe.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// Runs a convolutional ONNX graph (Conv, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool,
/// Add, Sub, Split, Concat, Flatten, Gemm) with TorchSharp, so any node's output can be read, not only the graph's
/// outputs, and the network runs on whichever device torch has. Weights are loaded once as tensors.
/// </summary>
public sealed class OnnxGraphExecutor : IDisposable
{
    readonly IReadOnlyList<OnnxNode> _nodes;
    readonly Dictionary<string, Tensor> _weights = new(StringComparer.Ordinal);

    public string InputName { get; }
    public IReadOnlyList<OnnxNode> Nodes => _nodes;

    public OnnxGraphExecutor(string onnxPath, Device? device = null)
    {
        _nodes = OnnxInitializerReader.ReadNodes(onnxPath);
        foreach (var init in OnnxInitializerReader.ReadInitializers(onnxPath))
        {
            var tensor = OnnxInitializerReader.ToTensor(init, onnxPath);
            _weights[init.Name] = device is null || device.type == DeviceType.CPU ? tensor : tensor.to(device);
        }
        var produced = new HashSet<string>(_nodes.SelectMany(n => n.Outputs));
        InputName = _nodes.SelectMany(n => n.Inputs).First(i => !produced.Contains(i) && !_weights.ContainsKey(i));
        foreach (var node in _nodes)
            if (!Supported.Contains(node.OpType)) throw new NotSupportedException($"{onnxPath}: ONNX op '{node.OpType}' is not supported");
    }

    // One long-lived alpha for Add/Sub: a temporary Scalar per call was seen to be collected mid-call under
    // allocation pressure (2 of 1,680 photos failed in libtorch's Scalar::toFloat).
    static readonly Scalar One = 1, MinusOne = -1;

    static readonly HashSet<string> Supported = ["Conv", "BatchNormalization", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Add", "Sub", "Split", "Concat", "Flatten", "Gemm"];

    /// <summary>Runs the graph on <paramref name="input"/> until <paramref name="output"/> is computed and returns it.</summary>
    public Tensor Run(Tensor input, string output)
    {
        using var scope = NewDisposeScope();
        return Walk(input, output).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multiply-adds of one pass from <paramref name="input"/> to <paramref name="output"/>: every Conv's (output
    /// elements × input channels per group × kernel area) and Gemm's (rows × inner × columns), counted on the shapes the
    /// pass really has. Elementwise work (norms, ReLU, adds, pools) is left out, as model tables leave it out.
    /// </summary>
    public long MultiplyAdds(Tensor input, string output)
    {
        using var scope = NewDisposeScope();
        long total = 0;
        Walk(input, output, (node, get, results) => total += node.OpType switch
        {
            "Conv" => results[0].numel() * (get(node.Inputs[1]).numel() / get(node.Inputs[1]).shape[0]),
            "Gemm" => results[0].numel() * get(node.Inputs[0]).shape[node.Int("transA", 0) == 1 ? 0 : 1],
            _ => 0,
        });
        return total;
    }

    /// <summary>Executes the nodes in order until one yields <paramref name="output"/>; each node's results go to <paramref name="visit"/>.</summary>
    Tensor Walk(Tensor input, string output, Action<OnnxNode, Func<string, Tensor>, Tensor[]>? visit = null)
    {
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputName] = input };
        Tensor Get(string name) => values.TryGetValue(name, out var v) ? v : _weights.TryGetValue(name, out var w) ? w
            : throw new InvalidDataException($"ONNX value '{name}' is used before it is computed");
        foreach (var node in _nodes)
        {
            var results = Execute(node, Get);
            visit?.Invoke(node, Get, results);
            for (int i = 0; i < node.Outputs.Length; i++) values[node.Outputs[i]] = results[i];
            if (node.Outputs.Contains(output)) return values[output];
        }
        throw new KeyNotFoundException($"the graph has no value named '{output}'");
    }

    static Tensor[] Execute(OnnxNode node, Func<string, Tensor> get)
    {
        switch (node.OpType)
        {
            case "Conv":
            {
                var x = get(node.Inputs[0]);
                var w = get(node.Inputs[1]);
                var bias = node.Inputs.Length > 2 && node.Inputs[2].Length > 0 ? get(node.Inputs[2]) : null;
                var kernel = node.Ints("kernel_shape", [w.shape[2], w.shape[3]]);
                var strides = node.Ints("strides", [1, 1]);
                var dilations = node.Ints("dilations", [1, 1]);
                x = Pad(node, x, kernel, strides, dilations, 0);
                return [nn.functional.conv2d(x, w, bias, strides: strides, dilation: dilations, groups: node.Int("group", 1))];
            }
            case "BatchNormalization":
            {
                var x = get(node.Inputs[0]);
                return [nn.functional.batch_norm(x, get(node.Inputs[3]), get(node.Inputs[4]), get(node.Inputs[1]), get(node.Inputs[2]),
                    training: false, eps: node.Float("epsilon", 1e-5f))];
            }
            case "Relu": return [nn.functional.relu(get(node.Inputs[0]))];
            case "MaxPool":
            {
                var kernel = node.Ints("kernel_shape", [1, 1]);
                var strides = node.Ints("strides", [1, 1]);
                var x = Pad(node, get(node.Inputs[0]), kernel, strides, [1, 1], double.NegativeInfinity);
                return [nn.functional.max_pool2d(x, kernel, strides)];
            }
            case "AveragePool":
            {
                var kernel = node.Ints("kernel_shape", [1, 1]);
                var strides = node.Ints("strides", [1, 1]);
                var x = Pad(node, get(node.Inputs[0]), kernel, strides, [1, 1], 0);
                return [nn.functional.avg_pool2d(x, kernel, strides)];
            }
            case "GlobalAveragePool": return [get(node.Inputs[0]).mean([2L, 3L], keepdim: true)];
            case "Add": return [get(node.Inputs[0]).add(get(node.Inputs[1]), One)];
            case "Sub": return [get(node.Inputs[0]).add(get(node.Inputs[1]), MinusOne)];
            case "Concat": return [cat(node.Inputs.Select(get).ToArray(), node.Int("axis", 0))];
            case "Split":
            {
                var x = get(node.Inputs[0]);
                long axis = node.Int("axis", 0);
                var sizes = node.Ints("split", Enumerable.Repeat(x.shape[axis] / node.Outputs.Length, node.Outputs.Length).ToArray());
                return x.split(sizes, axis);
            }
            case "Flatten": return [get(node.Inputs[0]).flatten(node.Int("axis", 1))];
            case "Gemm":
            {
                var a = get(node.Inputs[0]);
                var b = get(node.Inputs[1]);
                if (node.Int("transA", 0) == 1) a = a.t();
                if (node.Int("transB", 0) == 1) b = b.t();
                var y = a.matmul(b) * node.Float("alpha", 1f);
                if (node.Inputs.Length > 2) y = y + get(node.Inputs[2]) * node.Float("beta", 1f);
                return [y];
            }
            default: throw new NotSupportedException($"ONNX op '{node.OpType}' is not supported");
        }
    }

    /// <summary>Explicit or SAME_* padding, applied with F.pad so asymmetric pads are exact.</summary>
    static Tensor Pad(OnnxNode node, Tensor x, long[] kernel, long[] strides, long[] dilations, double value)
    {
        long[] pads;
        string autoPad = node.Attributes.TryGetValue("auto_pad", out var a) ? a.Text ?? "NOTSET" : "NOTSET";
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            pads = new long[4];
            for (int d = 0; d < 2; d++)
            {
                long size = x.shape[2 + d];
                long outSize = (size + strides[d] - 1) / strides[d];
                long total = Math.Max(0, (outSize - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size);
                long small = total / 2, large = total - small;
                pads[d] = autoPad == "SAME_UPPER" ? small : large;
                pads[d + 2] = autoPad == "SAME_UPPER" ? large : small;
            }
        }
        else pads = node.Ints("pads", [0, 0, 0, 0]);
        if (pads.All(p => p == 0)) return x;
        // ONNX pads are [top, left, bottom, right]; F.pad wants [left, right, top, bottom].
        return nn.functional.pad(x, [pads[1], pads[3], pads[0], pads[2]], PaddingModes.Constant, value);
    }

    public void Dispose()
    {
        foreach (var w in _weights.Values) w.Dispose();
    }
}
