// Marks one symbol-version requirement (a Vernaux entry of .gnu.version_r) weak in an ELF64
// shared library, so the dynamic loader accepts an older libstdc++ that lacks that version.
// Used for libLibTorchSharp.so, which asks for GLIBCXX_3.4.32 only for
// std::ios_base_library_init(), a symbol nothing calls.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenElfVersionNeed : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        foreach (var file in Files)
        {
            string outcome = ElfVersionNeedPatcher.Patch(file.ItemSpec, VersionName);
            if (outcome == "patched")
                Log.LogMessage(MessageImportance.High, "Marked " + VersionName + " weak in " + file.ItemSpec);
        }
        return !Log.HasLoggedErrors;
    }
}
public static class ElfVersionNeedPatcher
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>Returns "patched", "already" or "absent".</summary>
    public static string Patch(string path, string versionName)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException(path + " is not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException(path + " is not a little-endian ELF64 file");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        string result = "absent";
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 24));
            int link = (int)BitConverter.ToUInt32(elf, sh + 40);
            int strtab = checked((int)BitConverter.ToUInt64(elf, checked((int)shoff + link * shentsize) + 24));

            int need = offset;
            while (true)
            {
                int count = BitConverter.ToUInt16(elf, need + 2);
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int k = 0; k < count; k++)
                {
                    int nameOffset = strtab + (int)BitConverter.ToUInt32(elf, aux + 8);
                    int end = Array.IndexOf(elf, (byte)0, nameOffset);
                    string name = Encoding.ASCII.GetString(elf, nameOffset, end - nameOffset);
                    if (name == versionName)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0) { result = result == "patched" ? result : "already"; }
                        else
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                            result = "patched";
                        }
                    }
                    uint nextAux = BitConverter.ToUInt32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += (int)nextAux;
                }
                uint next = BitConverter.ToUInt32(elf, need + 12);
                if (next == 0) break;
                need += (int)next;
            }
        }
        if (result == "patched")
        {
            // Write a fresh file rather than in place, so a hard link into the NuGet cache is never modified.
            string temp = path + ".patching";
            File.WriteAllBytes(temp, elf);
            File.Delete(path);
            File.Move(temp, path);
        }
        return result;
    }
}
