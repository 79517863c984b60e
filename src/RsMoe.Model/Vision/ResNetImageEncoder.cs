using RsMoe.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// The embedded default image encoder: ImageNet ResNet-18 from the Microsoft.ML.DnnImageFeaturizer.ResNet18 package
/// (CNTK export), frozen. Input is RGB in 0–255, [B, 3, 224, 224]; the package's preprocessing graph reorders to BGR
/// and subtracts the mean image. The output is the last spatial feature map (7×7×512, before pooling) as 49 visual
/// tokens in reading order, each plus a fixed 2-D sine-cosine position code so the Q-Former knows where it is.
/// </summary>
public sealed class ResNetImageEncoder : IImageEncoder
{
    /// <summary>Who runs the graphs: ONNX Runtime on the CPU (the default there: 1.2–5× faster, measured), or libtorch
    /// operators (<see cref="OnnxGraphExecutor"/>: any device, and the reference the tests hold ONNX Runtime to).</summary>
    public enum Engine { OnnxRuntime, Libtorch }

    public const string FeatureMapOutput = "ReLU393_Output_0";
    public const string PooledOutput = "Pooling395_Output_0";
    public const int Width = 512;
    int IImageEncoder.TokenWidth => Width;
    public const int Side = 7;

    readonly OnnxGraphExecutor? _preprocess;
    readonly OnnxGraphExecutor? _network;
    readonly OnnxRuntimeFeatureMap? _onnxRuntime;
    readonly Tensor _positions;

    /// <summary>A stable name for caches: the model and the weights' digest.</summary>
    public string Identity { get; }
    public string ModelPath { get; }
    public Device Device { get; }
    public Engine Runner { get; }

    /// <param name="engine">Default: ONNX Runtime on the CPU (on as many threads as torch is set to), libtorch elsewhere.</param>
    public ResNetImageEncoder(string? modelDirectory = null, Device? device = null, Engine? engine = null)
    {
        modelDirectory ??= Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        ModelPath = Path.Combine(modelDirectory, "ResNet18Onnx", "ResNet18.onnx");
        string preprocessPath = Path.Combine(modelDirectory, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        if (!File.Exists(ModelPath) || !File.Exists(preprocessPath))
            throw new FileNotFoundException($"ResNet-18 ONNX files not found under '{modelDirectory}' (they come with the Microsoft.ML.DnnImageFeaturizer.ResNet18 package)");
        Device = device ?? CPU;
        Runner = engine ?? (Device.type == DeviceType.CPU ? Engine.OnnxRuntime : Engine.Libtorch);
        if (Runner == Engine.OnnxRuntime && Device.type != DeviceType.CPU) throw new NotSupportedException("the ONNX Runtime engine runs on the CPU only");
        if (Runner == Engine.OnnxRuntime)
        {
            _onnxRuntime = new OnnxRuntimeFeatureMap(preprocessPath, ModelPath, FeatureMapOutput, get_num_threads());
        }
        else
        {
            _preprocess = new OnnxGraphExecutor(preprocessPath, Device);
            _network = new OnnxGraphExecutor(ModelPath, Device);
        }
        _positions = SineCosinePositions(Side, Width).to(Device).DetachFromDisposeScope();
        Identity = "resnet18-cntk-onnx-" + FileDigest.Short(ModelPath, 16);
    }

    /// <summary>Visual tokens [B, 49, 512] for RGB pixels [B, 3, 224, 224] in 0–255.</summary>
    public Tensor Encode(Tensor rgb)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = FeatureMap(rgb);                                   // [B, 512, 7, 7]
        var tokens = features.flatten(2).transpose(1, 2);                 // [B, 49, 512]
        return tokens.add(_positions.unsqueeze(0), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>The network's last feature map [B, 512, 7, 7], before average pooling.</summary>
    public Tensor FeatureMap(Tensor rgb)
    {
        if (rgb.dim() != 4 || rgb.shape[1] != 3 || rgb.shape[2] != 224 || rgb.shape[3] != 224)
            throw new ArgumentException($"ResNet-18 takes [B, 3, 224, 224] pixels, got [{string.Join(", ", rgb.shape)}]");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // The exported graphs are batch-1; run each image and stack.
        var maps = new List<Tensor>();
        for (long i = 0; i < rgb.shape[0]; i++)
        {
            if (_onnxRuntime is not null)
            {
                var pixels = rgb[i].to(ScalarType.Float32, CPU).contiguous().data<float>().ToArray();
                var (values, shape) = _onnxRuntime.Run(pixels);
                maps.Add(tensor(values, shape.Select(d => (long)d).ToArray()).to(Device));
                continue;
            }
            var single = rgb.narrow(0, i, 1).to(ScalarType.Float32, Device);
            var prepared = _preprocess!.Run(single, "PreprocessedInput");
            maps.Add(_network!.Run(prepared, FeatureMapOutput));
        }
        return cat(maps, 0).MoveToOuterDisposeScope();
    }

    /// <summary>Fixed 2-D sine-cosine codes [side², width]: half the channels encode the row, half the column.</summary>
    public static Tensor SineCosinePositions(int side, int width)
    {
        var codes = new float[side * side * width];
        int quarter = width / 4;
        for (int row = 0; row < side; row++)
            for (int col = 0; col < side; col++)
            {
                int token = row * side + col;
                for (int k = 0; k < quarter; k++)
                {
                    double frequency = 1.0 / Math.Pow(100, k / (double)quarter);
                    codes[token * width + k] = (float)Math.Sin(row * frequency);
                    codes[token * width + quarter + k] = (float)Math.Cos(row * frequency);
                    codes[token * width + 2 * quarter + k] = (float)Math.Sin(col * frequency);
                    codes[token * width + 3 * quarter + k] = (float)Math.Cos(col * frequency);
                }
            }
        return tensor(codes, [side * side, width]);
    }

    public void Dispose()
    {
        _preprocess?.Dispose();
        _network?.Dispose();
        _onnxRuntime?.Dispose();
        _positions.Dispose();
    }
}
