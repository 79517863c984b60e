using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Tests;

public class NativeLibraryTests
{
    [Fact]
    public void LibTorchLoadsAndComputes()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, b.data<float>().ToArray());
    }
}
