using static TorchSharp.torch;

namespace RsMoe.Model;

/// <summary>
/// torch's default dtype is process-wide. Modules are built directly in the wanted dtype (so a bf16 model never
/// exists in fp32 first), and this lock keeps two builds on different threads from seeing each other's default.
/// </summary>
public static class TorchDefaults
{
    static readonly Lock Gate = new();

    public static T WithDefaultDType<T>(ScalarType dtype, Func<T> build)
    {
        lock (Gate)
        {
            var previous = get_default_dtype();
            try
            {
                set_default_dtype(dtype);
                return build();
            }
            finally
            {
                set_default_dtype(previous);
            }
        }
    }
}
